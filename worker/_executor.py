"""Evaluation requests and outcomes, the executor protocol, shared batching, the in-process executor.

An executor turns :class:`EvalRequest`s (one candidate × one seed at one fidelity) into
``concurrent.futures.Future[EvalOutcome]``. Requests wait in a :class:`BatchQueue` and leave as
one batch — one ``evaluate_batch`` call, so one population run — once ``batch_size`` compatible
requests (same task, options, steps and device) wait, or ``linger`` seconds after the first one.
A batch leaves only when one of the executor's slots is free: requests keep joining it while
the workers are busy, and its time limit counts from when it starts, not from when it queued.

Whatever happens — an exception in ``evaluate_batch``, a time limit, a dead worker — a future
resolves to an outcome (``status="failed"`` with a ``reason``); ``future.result()`` never raises.
Only ``shutdown()`` *cancels* outstanding futures, so ``future.cancelled()`` tells a request that
was never evaluated (run it again later) from one that failed (store it).
"""

from __future__ import annotations

import json
import logging
import math
import os
import queue
import socket
import sys
import threading
import time
import traceback
from collections import defaultdict, deque
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, InvalidStateError
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Protocol

log = logging.getLogger(__name__)

# the evaluator's status names, repeated so that this module never imports torch
OK, REJECTED, FAILED = "ok", "rejected", "failed"
_NONFINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


@dataclass(frozen=True)
class EvalRequest:
    """One candidate × one seed at one fidelity: a row of the store's ``evaluations``.

    ``expression`` is text (parsed by ``space.parse`` on the worker, never evaluated);
    ``task_options`` go to ``get_task(task, **task_options)`` and must be JSON-able;
    ``steps`` None means the task's default budget.

    >>> EvalRequest("e1", "x*sigmoid(x)", "mnist1d-mlp", {}, seed=0, steps=300).batch_key
    ('mnist1d-mlp', '{}', 300, 'cpu')
    """

    key: str
    expression: str
    task: str
    # a plain dict, copied on construction; left out of the hash so the request stays hashable
    task_options: dict[str, Any] = field(hash=False)
    seed: int
    steps: int | None
    device: str = "cpu"

    def __post_init__(self) -> None:
        options = dict(self.task_options)
        json.dumps(options)  # TypeError here, at submission, rather than on a worker
        object.__setattr__(self, "task_options", options)

    @property
    def batch_key(self) -> tuple[str, str, int | None, str]:
        """Requests with equal keys can share one population run."""
        return self.task, json.dumps(self.task_options, sort_keys=True), self.steps, self.device

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "task_options": dict(self.task_options)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> EvalRequest:
        return cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data})


@dataclass(frozen=True)
class EvalOutcome:
    """What became of one request. ``fitness`` is None unless ``status`` is ok and it is finite;
    ``metrics`` may hold non-finite values; ``steps`` is the fidelity (the planned steps, the
    task's default budget resolved) and ``steps_done`` the steps actually trained (fewer for an
    early rejection). ``worker`` is ``host:pid`` (``host:pid:node_id`` on Ray), "" if unknown."""

    key: str
    status: str
    fitness: float | None
    metrics: dict[str, float] = field(default_factory=dict, hash=False)
    reason: str | None = None
    detail: str | None = None
    wall_time: float = 0.0
    worker: str = ""
    steps: int = 0
    steps_done: int = 0

    @classmethod
    def failed(cls, request: EvalRequest, reason: str, detail: str | None, *,
               wall_time: float = 0.0, worker: str = "") -> EvalOutcome:
        return cls(request.key, FAILED, None, {}, reason, detail, wall_time, worker, request.steps or 0)

    def to_json(self) -> dict[str, Any]:
        """A dict that strict JSON accepts: non-finite floats become "NaN", "Infinity", "-Infinity"."""
        return {**asdict(self), "fitness": _encode(self.fitness),
                "metrics": {k: _encode(v) for k, v in self.metrics.items()}}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> EvalOutcome:
        values = {f.name: data[f.name] for f in fields(cls) if f.name in data}
        values["fitness"] = _decode(values.get("fitness"))
        values["metrics"] = {k: _decode(v) for k, v in values.get("metrics", {}).items()}
        return cls(**values)


def _encode(value: float | None) -> float | str | None:
    if value is None or math.isfinite(value):
        return value
    return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")


def _decode(value: Any) -> Any:
    return _NONFINITE[value] if isinstance(value, str) and value in _NONFINITE else value


EvaluateBatch = Callable[[Sequence[EvalRequest]], list[EvalOutcome]]


class Executor(Protocol):
    """Runs evaluations. ``capacity``: how many requests it can usefully hold in flight."""

    @property
    def capacity(self) -> int: ...

    def submit(self, request: EvalRequest) -> Future[EvalOutcome]: ...

    def shutdown(self) -> None: ...


def worker_id() -> str:
    """``host:pid``, plus ``:node_id`` inside a Ray process (ray is never imported here)."""
    ident = f"{socket.gethostname()}:{os.getpid()}"
    ray = sys.modules.get("ray")
    if ray is not None and ray.is_initialized():
        try:
            ident += f":{ray.get_runtime_context().get_node_id()}"
        except Exception:  # noqa: BLE001  (a driver mid-shutdown: the host and pid still say enough)
            pass
    return ident


def describe_exception(exc: BaseException) -> str:
    """``Type: message (at file:line in function)`` — the innermost frame is where it broke."""
    text = f"{type(exc).__name__}: {exc}"
    frames = traceback.extract_tb(exc.__traceback__)
    if frames:
        last = frames[-1]
        text += f" (at {Path(last.filename).name}:{last.lineno} in {last.name})"
    return text


def run_batch(evaluate_batch: EvaluateBatch, requests: Sequence[EvalRequest]) -> list[EvalOutcome]:
    """``evaluate_batch(requests)``, with an exception turned into failed outcomes (reason "error")."""
    began = time.perf_counter()
    try:
        return list(evaluate_batch(requests))
    except Exception as exc:
        detail = describe_exception(exc)
        log.warning("evaluate_batch failed on %d requests: %s", len(requests), detail)
        wall, where = time.perf_counter() - began, worker_id()
        return [EvalOutcome.failed(r, "error", detail, wall_time=wall, worker=where) for r in requests]


@dataclass(eq=False)  # identity semantics: batches live in sets
class Batch:
    items: list[tuple[EvalRequest, Future[EvalOutcome]]]
    started: float = 0.0
    deadline: float | None = None
    handle: Any = None  # the backend's (an ObjectRef on Ray)
    done: bool = False

    @property
    def requests(self) -> list[EvalRequest]:
        return [request for request, _ in self.items]


class BatchQueue:
    """Buffers requests, forms compatible batches, starts them when a slot is free, enforces the
    time limit; one scheduler thread. ``start(batch)`` must make the backend eventually call
    :meth:`finish` (from any thread); ``stop(batch)`` abandons or kills a batch and says how."""

    def __init__(self, start: Callable[[Batch], None], stop: Callable[[Batch], str], *, slots: int,
                 batch_size: int, linger: float, time_limit: float | None, where: str = "") -> None:
        if slots < 1 or batch_size < 1 or linger < 0 or (time_limit is not None and time_limit <= 0):
            raise ValueError(f"bad settings: slots={slots}, batch_size={batch_size}, linger={linger}, "
                             f"time_limit={time_limit}")
        self._start, self._stop, self._where = start, stop, where
        self.batch_size, self.linger, self.time_limit = batch_size, linger, time_limit
        self._cond = threading.Condition()
        self._groups: dict[tuple[Any, ...], list[tuple[EvalRequest, Future[EvalOutcome], float]]] = {}
        self._running: set[Batch] = set()
        self._free = slots
        self._closed = False
        # Futures resolve on one delivery thread of ours: a caller's callbacks (a database
        # write per outcome) never run on, and never stall, a Ray thread or the scheduler.
        self._outbox: queue.SimpleQueue[tuple[Batch, Sequence[EvalOutcome]] | None] = queue.SimpleQueue()
        self._threads = [threading.Thread(target=self._loop, name="actsearch-batches", daemon=True),
                         threading.Thread(target=self._deliver, name="actsearch-outcomes", daemon=True)]
        for thread in self._threads:
            thread.start()

    def submit(self, request: EvalRequest) -> Future[EvalOutcome]:
        if not isinstance(request, EvalRequest):
            raise TypeError(f"expected an EvalRequest, got {type(request).__name__}")
        future: Future[EvalOutcome] = Future()
        with self._cond:
            if self._closed:
                raise RuntimeError("the executor is shut down")
            self._groups.setdefault(request.batch_key, []).append((request, future, time.monotonic()))
            self._cond.notify()
        return future

    def finish(self, batch: Batch, outcomes: Sequence[EvalOutcome]) -> None:
        """Resolves the batch's futures, unless it already ended (timed out, shut down)."""
        with self._cond:
            if batch.done:
                return
            self._end(batch)
        self._outbox.put((batch, outcomes))

    def fail(self, batch: Batch, reason: str, detail: str, worker: str = "") -> None:
        wall = time.monotonic() - batch.started
        self.finish(batch, [EvalOutcome.failed(r, reason, detail, wall_time=wall, worker=worker)
                            for r in batch.requests])

    def cancel(self, future: Future[EvalOutcome]) -> bool:
        """Cancels one request. A queued one never runs; a running batch is stopped (and its slot
        freed) once every request in it is cancelled. False if the outcome was already there."""
        if not future.cancel():
            return False
        with self._cond:
            batch = next((b for b in self._running if any(f is future for _, f in b.items)), None)
            if batch is None or not all(f.cancelled() for _, f in batch.items):
                return True
            self._end(batch)
        try:
            self._stop(batch)
        except Exception:  # noqa: BLE001  (the futures are cancelled already; the slot is free)
            log.exception("could not stop a cancelled batch")
        return True

    def close(self) -> None:
        """Cancels every outstanding future and stops running batches; idempotent."""
        with self._cond:
            if self._closed:
                return
            self._closed = True
            futures = [f for items in self._groups.values() for _, f, _ in items]
            self._groups.clear()
            running = list(self._running)
            for batch in running:
                self._end(batch)
            self._cond.notify()
        for batch in running:
            futures += [f for _, f in batch.items]
            try:
                self._stop(batch)
            except Exception:  # noqa: BLE001  (shutting down: cancel the rest regardless)
                log.exception("could not stop a running batch")
        for future in futures:
            future.cancel()
        self._outbox.put(None)  # after the outcomes that arrived before the shutdown
        for thread in self._threads:
            if thread is not threading.current_thread():  # a future's callback may shut down
                thread.join(timeout=10)

    def _end(self, batch: Batch) -> None:  # holding the lock
        batch.done = True
        self._running.discard(batch)
        self._free += 1
        self._cond.notify()

    def _loop(self) -> None:
        while True:
            with self._cond:
                if self._closed:
                    return
                now = time.monotonic()
                expired = [b for b in self._running if b.deadline is not None and b.deadline <= now]
                for batch in expired:
                    self._end(batch)
                launch: list[Batch] = []
                while self._free > 0 and (ready := self._take(now)) is not None:
                    self._free -= 1
                    ready.started = now
                    ready.deadline = None if self.time_limit is None else now + self.time_limit
                    self._running.add(ready)
                    launch.append(ready)
                if not expired and not launch:
                    self._cond.wait(self._timeout(now))
                    continue
            for batch in expired:  # outside the lock: a stop may block, a future's callback may submit
                self._expire(batch)
            for batch in launch:
                try:
                    self._start(batch)
                except Exception as exc:  # noqa: BLE001  (e.g. a serialization error on submission)
                    self.fail(batch, "error", describe_exception(exc), self._where)

    def _expire(self, batch: Batch) -> None:
        try:
            how = self._stop(batch)
        except Exception as exc:  # noqa: BLE001
            how = f"stopping it failed: {describe_exception(exc)}"
        detail = f"no result after {self.time_limit:g} s; {how}"
        wall = time.monotonic() - batch.started
        self._outbox.put((batch, [EvalOutcome.failed(r, "time_limit", detail, wall_time=wall, worker=self._where)
                                  for r in batch.requests]))

    def _deliver(self) -> None:
        while (item := self._outbox.get()) is not None:
            try:
                _settle(*item)
            except Exception:  # noqa: BLE001  (a caller's callback raised: deliver the rest)
                log.exception("delivering outcomes failed")

    def _take(self, now: float) -> Batch | None:
        """The oldest ready group's first ``batch_size`` live requests, or None."""
        while True:
            ready = [(items[0][2], key) for key, items in self._groups.items()
                     if len(items) >= self.batch_size or now - items[0][2] >= self.linger]
            if not ready:
                return None
            key = min(ready, key=lambda r: r[0])[1]
            items = self._groups.pop(key)
            if items[self.batch_size:]:
                self._groups[key] = items[self.batch_size:]  # the rest keep their arrival times
            live = [(r, f) for r, f, _ in items[: self.batch_size] if not f.cancelled()]
            if live:
                return Batch(live)

    def _timeout(self, now: float) -> float | None:
        times = [b.deadline for b in self._running if b.deadline is not None]
        if self._free > 0:
            times += [items[0][2] + self.linger for items in self._groups.values()]
        return max(0.0, min(times) - now) if times else None


def _settle(batch: Batch, outcomes: Sequence[EvalOutcome]) -> None:
    """Gives every request its outcome, matched by key; a missing one is a failed "error"."""
    by_key: dict[str, deque[EvalOutcome]] = defaultdict(deque)
    for outcome in outcomes:
        if isinstance(outcome, EvalOutcome):
            by_key[outcome.key].append(outcome)
    for request, future in batch.items:
        found = by_key[request.key]
        outcome = found.popleft() if found else EvalOutcome.failed(
            request, "error", "evaluate_batch returned no outcome for this key")
        try:
            future.set_result(outcome)
        except InvalidStateError:  # the caller cancelled it
            pass


class InProcessExecutor:
    """Runs batches on threads of this process: tests, the embedded runner, ``evaluate`` locally.

    A thread cannot be killed: a batch past ``time_limit`` resolves as failed ("time_limit")
    and frees its slot, but its thread is abandoned and keeps computing until it returns
    (daemon, so the process can still exit). That is why :class:`RayExecutor`, which kills
    the worker process, is the production executor.

    >>> from worker.testing import toy_evaluate
    >>> ex = InProcessExecutor(toy_evaluate, workers=2)
    >>> ex.submit(EvalRequest("k", "x", "echo", {}, 0, 10)).result().status
    'ok'
    >>> ex.shutdown()
    """

    def __init__(self, evaluate_batch: EvaluateBatch | None = None, *, workers: int = 1,
                 time_limit: float | None = None, batch_size: int = 32, linger: float = 0.05) -> None:
        if evaluate_batch is None:  # lazy: the real evaluator imports torch
            from worker._evaluate import evaluate_batch as real

            evaluate_batch = real
        self._evaluate = evaluate_batch
        self.capacity = workers * batch_size
        self._queue = BatchQueue(self._begin, _abandon, slots=workers, batch_size=batch_size,
                                 linger=linger, time_limit=time_limit, where=worker_id())

    def submit(self, request: EvalRequest) -> Future[EvalOutcome]:
        return self._queue.submit(request)

    def cancel(self, future: Future[EvalOutcome]) -> bool:
        """Cancels one request (see :meth:`BatchQueue.cancel`); an abandoned thread runs on."""
        return self._queue.cancel(future)

    def shutdown(self) -> None:
        self._queue.close()

    def _begin(self, batch: Batch) -> None:
        threading.Thread(target=self._run, args=(batch,), name="actsearch-eval", daemon=True).start()

    def _run(self, batch: Batch) -> None:
        outcomes = None
        try:
            outcomes = run_batch(self._evaluate, batch.requests)
        finally:  # even a SystemExit in evaluate_batch must not leave futures pending forever
            if outcomes is None:
                self._queue.fail(batch, "error", "the evaluation thread exited", worker_id())
            else:
                self._queue.finish(batch, outcomes)


def _abandon(batch: Batch) -> str:
    return "its thread cannot be killed and was abandoned"
