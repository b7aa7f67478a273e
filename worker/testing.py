"""The executor contract: behavioural tests every executor must pass, and toy evaluators.

Like ``optuna/testing/pytest_samplers.py``: an executor (built-in or a plug-in) gets the whole
suite by subclassing :class:`ExecutorContract` and providing one fixture::

    class TestMyExecutor(ExecutorContract):
        @pytest.fixture
        def executor_factory(self):
            return functools.partial(MyExecutor, workers=2)

``executor_factory(evaluate_batch, *, batch_size, linger, time_limit) -> Executor``.

:func:`toy_evaluate` stands in for the real evaluation. It is module-level, so Ray can pickle it,
and light (no torch), so a worker starts fast. It does what ``request.task`` says:

* ``echo`` — ok, with a fitness computed from (expression, seed) and, in ``detail``, the keys of
  the batch it came in (:func:`batch_of` reads them back);
* ``raise`` — raises ``RuntimeError``;
* ``sleep`` — sleeps ``task_options["seconds"]``, then echoes;
* ``kill-once`` — the first time (no file at ``task_options["path"]`` yet) writes its pid there
  and sleeps ``task_options["seconds"]``, waiting to be killed; afterwards echoes;
* ``die`` — kills its own process (SIGKILL), every time.
"""

from __future__ import annotations

import json
import os
import signal
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, wait
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from evaluator import OK
from worker._executor import Executor, worker_id
from worker._request import EvalRequest
from worker._result import EvalOutcome

WAIT = 60.0  # seconds any one test waits for its futures: generous on a loaded 2-core machine


def toy_evaluate(requests: Sequence[EvalRequest]) -> list[EvalOutcome]:
    """A stand-in for ``evaluate_batch``; see the module docstring."""
    task = requests[0].task if requests else "echo"
    options = requests[0].task_options if requests else {}
    if task == "raise":
        raise RuntimeError(f"boom in a batch of {len(requests)}")
    if task == "die":
        os.kill(os.getpid(), signal.SIGKILL)
    if task == "sleep":
        time.sleep(options["seconds"])
    if task == "kill-once":
        path = Path(options["path"])
        if not path.exists():
            tmp = path.with_suffix(".tmp")
            tmp.write_text(str(os.getpid()))
            tmp.replace(path)  # atomic: the test never reads half a pid
            time.sleep(options["seconds"])
    keys = sorted(r.key for r in requests)
    return [_echo(r, keys) for r in requests]


def _echo(request: EvalRequest, batch: list[str]) -> EvalOutcome:
    value = zlib.crc32(f"{request.expression}|{request.seed}".encode()) / 2**32
    steps = request.steps or 100
    return EvalOutcome(request.key, OK, value, {"value": value, "seed": float(request.seed)}, None,
                       json.dumps({"batch": batch}), 0.0, worker_id(), steps, steps)


def batch_of(outcome: EvalOutcome) -> list[str]:
    """The keys of the batch an ``echo`` outcome was evaluated in."""
    batch: list[str] = json.loads(outcome.detail or "{}")["batch"]
    return batch


def essence(outcome: EvalOutcome) -> EvalOutcome:
    """The outcome without what depends on where and with whom it ran."""
    return replace(outcome, detail=None, worker="", wall_time=0.0)


def make_request(key: str, task: str = "echo", *, seed: int = 0, steps: int | None = 10,
            expression: str = "x*sigmoid(x)", device: str = "cpu", **options: Any) -> EvalRequest:
    return EvalRequest(key, expression, task, options, seed, steps, device)


def results(futures: Sequence[Future[EvalOutcome]], timeout: float = WAIT) -> list[EvalOutcome]:
    """Every future's outcome, in order; fails the test if one is late."""
    done, late = wait(futures, timeout=timeout)
    assert not late, f"{len(late)} of {len(futures)} evaluations still running after {timeout} s"
    return [f.result() for f in futures]


class ExecutorContract:
    """Tests every executor must pass. Subclass and provide the ``executor_factory`` fixture."""

    time_limit = 1.0  # the limit in the time-limit test; above a worker's start-up time

    @pytest.fixture
    def build(self, executor_factory: Callable[..., Executor]) -> Iterator[Callable[..., Executor]]:
        made: list[Executor] = []

        def build(evaluate: Callable[..., Any] = toy_evaluate, *, batch_size: int = 32,
                  linger: float = 0.01, time_limit: float | None = None) -> Executor:
            executor = executor_factory(evaluate, batch_size=batch_size, linger=linger, time_limit=time_limit)
            made.append(executor)
            return executor

        yield build
        for executor in made:
            executor.shutdown()

    def test_capacity_is_a_positive_count(self, build: Callable[..., Executor]) -> None:
        capacity = build().capacity
        assert isinstance(capacity, int) and capacity >= 1

    def test_every_request_gets_its_own_outcome(self, build: Callable[..., Executor]) -> None:
        executor = build(batch_size=4)
        requests = [make_request(f"k{i}", seed=i, steps=10 * (1 + i % 3)) for i in range(12)]
        futures = [executor.submit(r) for r in requests]
        outcomes = results(futures)
        assert [o.key for o in outcomes] == [r.key for r in requests]
        assert all(o.status == OK and o.steps == r.steps for o, r in zip(outcomes, requests, strict=True))

    def test_outcomes_equal_a_direct_call(self, build: Callable[..., Executor]) -> None:
        executor = build(batch_size=3)
        requests = [make_request(f"k{i}", expression=e, seed=i) for i, e in enumerate(["x", "sin(x)", "tanh(x)", "x"])]
        outcomes = results([executor.submit(r) for r in requests])
        direct = [toy_evaluate([r])[0] for r in requests]
        assert [essence(o) for o in outcomes] == [essence(o) for o in direct]

    def test_compatible_requests_share_one_batch(self, build: Callable[..., Executor]) -> None:
        executor = build(batch_size=4, linger=30.0)  # only a full batch can leave before the test times out
        keys = [f"k{i}" for i in range(8)]
        outcomes = results([executor.submit(make_request(k, seed=i)) for i, k in enumerate(keys)])
        batches = {tuple(batch_of(o)) for o in outcomes}
        assert sorted(len(b) for b in batches) == [4, 4]
        assert sorted(k for b in batches for k in b) == keys

    def test_incompatible_requests_never_share_a_batch(self, build: Callable[..., Executor]) -> None:
        executor = build(batch_size=32, linger=0.5)
        shapes: list[dict[str, Any]] = [{}, {"steps": 20}, {"width": 2}, {"device": "cuda"}, {"task": "sleep", "seconds": 0}]
        requests = [make_request(f"k{i}", seed=i, **shapes[i % len(shapes)]) for i in range(15)]
        outcomes = results([executor.submit(r) for r in requests])
        by_key = {r.key: r for r in requests}
        for outcome in outcomes:
            batch = batch_of(outcome)
            assert len(batch) == 3  # the three compatible requests, lingered into one batch
            assert len({by_key[k].batch_key for k in batch}) == 1

    def test_an_exception_fails_every_request_of_its_batch(self, build: Callable[..., Executor]) -> None:
        executor = build(batch_size=8)
        doomed = [executor.submit(make_request(f"bad{i}", "raise", seed=i)) for i in range(3)]
        fine = executor.submit(make_request("good"))
        for outcome in results(doomed):  # result() returns: it never raises
            assert (outcome.status, outcome.reason, outcome.fitness) == ("failed", "error", None)
            assert "RuntimeError: boom in a batch of 3" in (outcome.detail or "")
        assert results([fine])[0].status == OK

    def test_time_limit_fails_the_batch_and_the_executor_goes_on(self, build: Callable[..., Executor]) -> None:
        executor = build(batch_size=1, time_limit=self.time_limit)
        # one hung batch per slot (capacity = slots with batch_size 1): all of them must be freed
        began = time.monotonic()
        hung = [executor.submit(make_request(f"hang{i}", "sleep", seconds=120, slot=i))
                for i in range(min(executor.capacity, 4))]
        for outcome in results(hung):
            assert (outcome.status, outcome.reason) == ("failed", "time_limit")
            assert outcome.wall_time >= self.time_limit * 0.9
        assert time.monotonic() - began < self.time_limit + WAIT / 2
        # The killed workers are replaced; on a loaded machine a replacement's start-up can eat
        # a request's time limit (and the kill then costs the next one a start-up too), so the
        # executor gets three chances to show it works.
        after = [results([executor.submit(make_request(f"after{i}"))])[0] for i in range(3)]
        assert OK in [outcome.status for outcome in after], after

    def test_cancelling_a_whole_batch_frees_its_slot(self, build: Callable[..., Executor]) -> None:
        executor = build(batch_size=1, linger=0.0)
        cancel = getattr(executor, "cancel", None)
        if cancel is None:
            pytest.skip("this executor has no cancel(future)")
        hung = [executor.submit(make_request(f"hang{i}", "sleep", seconds=120, slot=i))
                for i in range(min(executor.capacity, 4))]
        assert all(cancel(f) for f in hung)
        assert all(f.cancelled() for f in hung)
        assert results([executor.submit(make_request("after"))])[0].status == OK  # not 120 s later

    def test_shutdown_cancels_outstanding_work(self, build: Callable[..., Executor]) -> None:
        executor = build(batch_size=1, linger=0.0)
        # hung batches in every slot (up to 4) and one more that waits for a slot
        futures = [executor.submit(make_request(f"busy{i}", "sleep", seconds=120, slot=i))
                   for i in range(min(executor.capacity, 4) + 1)]
        began = time.monotonic()
        executor.shutdown()
        assert time.monotonic() - began < 15
        assert all(f.cancelled() for f in futures)
        with pytest.raises(RuntimeError):
            executor.submit(make_request("late"))
        executor.shutdown()  # idempotent
