"""Crash safety with real processes: ``kill -9`` of a runner mid-job, two runners on one
PostgreSQL queue, and a Ray worker process killed during an evaluation. Each job must complete
with every evaluation stored exactly once (rows counted, and each row reported finished once)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import store
from tests.worker import jobs

ACTSEARCH = [sys.executable, "-m", "cli"]


def start_runner(url: str, log: Path, *extra: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    command = [*ACTSEARCH, "worker", "--db", url, "--executor", "local", "--lease", "2", *extra]
    return subprocess.Popen(command, stdout=log.open("ab"), stderr=subprocess.STDOUT, env=env,
                            cwd=Path(__file__).parents[2])


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:  # clean up even when the test failed
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)


def test_kill_9_mid_job_then_restart_completes_without_loss_or_repeats(tmp_path, processes):
    url = f"sqlite:///{tmp_path / 'crash.db'}"
    database = store.connect(url)
    job_id = jobs.submit(database, jobs.spec(budget={"candidates": 12}, confirm={"top_k": 2, "seeds": 2},
                                             task={"name": "mnist1d-mlp", "seeds": 1, "steps": 40}))
    log = tmp_path / "runner.log"
    first = start_runner(url, log, "--max-jobs", "1")
    processes.append(first)
    jobs.wait_for(lambda: jobs.job(database, job_id).evaluations_done >= 3, timeout=120, what="3 evaluations")
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    interrupted = jobs.job(database, job_id)
    # killed mid-job: in the search or, when its evaluations came back as one population, in
    # the confirm phase (which of the two depends on how the first batches formed)
    assert interrupted.status == store.JOB_RUNNING and interrupted.lease_owner is not None

    second = start_runner(url, log, "--max-jobs", "1")
    processes.append(second)
    assert second.wait(timeout=240) == 0, log.read_text()[-3000:]
    assert jobs.job(database, job_id).claims == 2
    jobs.assert_complete_and_exactly_once(database, job_id, 12)
    database.dispose()


def test_two_runners_on_postgresql_share_the_queue_and_never_run_a_job_twice(postgres, tmp_path, processes):
    url = str(postgres.create_schema())
    database = store.connect(url)
    ids = [jobs.submit(database, jobs.spec(name=f"job{i}", budget={"candidates": 6}, confirm={"top_k": 1}))
           for i in range(4)]
    log = tmp_path / "runners.log"
    processes += [start_runner(url, log), start_runner(url, log)]
    jobs.wait_for(lambda: all(jobs.job(database, i).status == store.JOB_COMPLETED for i in ids), timeout=300,
                  what="four jobs")
    runners = set()
    for job_id in ids:
        assert jobs.job(database, job_id).claims == 1  # one runner, start to finish
        claims = [e.data["runner"] for e in jobs.rows(database, store.Event, job_id)
                  if e.kind == "status" and e.data.get("status") == store.JOB_RUNNING]
        assert len(claims) == 1
        runners |= set(claims)
        jobs.assert_complete_and_exactly_once(database, job_id, 6)
    assert len(runners) == 2, f"both runners should have taken jobs: {runners}"
    database.dispose()


def test_a_ray_worker_killed_during_an_evaluation_is_retried_and_the_job_completes(tmp_path):
    import psutil
    import ray

    from worker import RayExecutor, Runner, evaluate_batch

    ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING")
    try:
        database = store.connect(f"sqlite:///{tmp_path / 'ray.db'}")
        job_id = jobs.submit(database, jobs.spec(budget={"candidates": 6}, confirm={"top_k": 0},
                                                 task={"name": "mnist1d-mlp", "seeds": 1, "steps": 250}))
        executor = RayExecutor(evaluate_batch=evaluate_batch, num_cpus=1, batch_size=2, max_retries=3)
        runner = Runner(database=database, executor=executor, heartbeat_seconds=0.5)
        thread = threading.Thread(target=runner.run_one, daemon=True)
        thread.start()
        killed = kill_a_busy_ray_worker(psutil, deadline=time.monotonic() + 120)
        thread.join(timeout=300)
        assert not thread.is_alive()
        assert killed
        jobs.assert_complete_and_exactly_once(database, job_id, 6)
        evaluations = jobs.rows(database, store.Evaluation, job_id)
        assert not [e for e in evaluations if e.status == store.FAILED], "the killed batch should be retried"
        executor.shutdown()
        database.dispose()
    finally:
        ray.shutdown()


def kill_a_busy_ray_worker(psutil, deadline: float) -> bool:
    """SIGKILLs a Ray worker process while it runs an evaluation batch (its title says so)."""
    while time.monotonic() < deadline:
        for process in psutil.process_iter(["pid"]):
            if busy(process):
                time.sleep(0.3)  # well inside the batch
                if not busy(process):
                    continue  # the batch ended first: a kill now would test no retry
                os.kill(process.info["pid"], signal.SIGKILL)
                return True
        time.sleep(0.05)
    return False


def busy(process) -> bool:
    """Whether a Ray worker's title still says it runs an evaluation (not idle, not gone)."""
    import psutil

    try:
        title = " ".join(process.cmdline())
    except psutil.Error:  # gone (NoSuchProcess) or no longer readable
        return False
    return title.startswith("ray::") and "evaluate" in title and "IDLE" not in title
