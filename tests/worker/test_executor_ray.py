"""What only Ray can do: retry after a worker dies, kill a hung batch, run the real evaluation."""

from __future__ import annotations

import logging
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from worker._ray import RayExecutor
from worker._request import EvalRequest
from worker.testing import make_request, results, toy_evaluate

DEADLINE = 30.0


@pytest.fixture(scope="module")
def ray_local() -> Iterator[None]:
    import ray

    ray.init(num_cpus=2, include_dashboard=False, logging_level=logging.WARNING)
    yield
    ray.shutdown()


@pytest.fixture
def executor(ray_local: None) -> Iterator[RayExecutor]:
    executor = RayExecutor(toy_evaluate, num_cpus=1, max_retries=2, time_limit=20.0, linger=0.0)
    yield executor
    executor.shutdown()


def pid_in(path: Path, wait: float = DEADLINE) -> int | None:
    """The pid a ``kill-once`` evaluation wrote, once it is there (None after ``wait`` s)."""
    deadline = time.monotonic() + wait
    while not path.exists():
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.05)
    return int(path.read_text())


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_killed_worker_is_retried_and_the_evaluation_succeeds(executor: RayExecutor, tmp_path: Path) -> None:
    future = executor.submit(make_request("k", "kill-once", path=str(tmp_path / "pid"), seconds=120))
    pid = pid_in(tmp_path / "pid")
    assert pid is not None, "the evaluation never started"
    os.kill(pid, signal.SIGKILL)
    outcome = results([future])[0]
    assert outcome.status == "ok"
    host, worker_pid, node = outcome.worker.split(":")
    assert int(worker_pid) != pid and node  # another process, and the Ray node it ran on


def test_a_worker_that_always_dies_fails_with_worker_died(ray_local: None) -> None:
    executor = RayExecutor(toy_evaluate, num_cpus=1, max_retries=1, linger=0.0)
    try:
        outcome = results([executor.submit(make_request("k", "die"))])[0]
        assert (outcome.status, outcome.reason, outcome.fitness) == ("failed", "worker_died", None)
        assert "WorkerCrashedError" in (outcome.detail or "")
        after = results([executor.submit(make_request("next"))])[0]
        assert after.status == "ok", after
    finally:
        executor.shutdown()


def test_a_hung_batch_is_killed_at_the_time_limit(ray_local: None, tmp_path: Path) -> None:
    """The worker process itself is killed, not only the future resolved (that the executor goes
    on afterwards is in the contract suite, TestRayExecutor)."""
    executor = RayExecutor(toy_evaluate, num_cpus=1, time_limit=4.0, linger=0.0)
    try:
        future = executor.submit(make_request("k", "kill-once", path=str(tmp_path / "pid"), seconds=120))
        outcome = results([future])[0]
        assert (outcome.status, outcome.reason) == ("failed", "time_limit")
        assert "killed" in (outcome.detail or "")
        # the clock starts on submission: a worker slow to start may be killed before it writes
        pid = pid_in(tmp_path / "pid", wait=0.0)
        if pid is None:
            pytest.skip("the worker was killed before it started evaluating")
        deadline = time.monotonic() + DEADLINE
        while alive(pid):
            assert time.monotonic() < deadline, f"worker {pid} still alive"
            time.sleep(0.05)
    finally:
        executor.shutdown()


def test_capacity_follows_the_cluster(ray_local: None) -> None:
    shapes = [({"num_cpus": 1}, 16), ({"num_cpus": 0.5}, 32), ({"num_cpus": 1, "capacity": 5}, 5)]
    for options, capacity in shapes:
        executor = RayExecutor(toy_evaluate, batch_size=8, **options)  # type: ignore[arg-type]
        assert executor.capacity == capacity
        executor.shutdown()
    with pytest.raises(ValueError, match="cannot fit"):
        RayExecutor(toy_evaluate, num_gpus=1)  # this cluster has no GPU


def test_the_real_evaluation_runs_on_a_ray_worker(ray_local: None) -> None:
    executor = RayExecutor(num_cpus=1, linger=0.2)
    try:
        requests = [EvalRequest(k, text, "mnist1d-mlp", {}, 0, 20)
                    for k, text in [("swish", "x*sigmoid(x)"), ("constant", "beta")]]
        swish, constant = results([executor.submit(r) for r in requests])
        assert swish.status in ("ok", "rejected") and swish.steps == 20
        assert (constant.status, constant.reason) == ("rejected", "constant")
        assert swish.worker.count(":") == 2
    finally:
        executor.shutdown()
