"""Shared batching for every executor: requests wait in a :class:`BatchQueue` and leave as one
batch (one ``evaluate_batch`` call, so one population run) when ``batch_size`` compatible
requests wait or ``linger`` seconds after the first; a batch starts only when a slot is free,
and its time limit counts from its start."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass
from typing import Any

from worker._executor import describe_exception
from worker._request import EvalRequest
from worker._result import EvalOutcome

log = logging.getLogger(__name__)


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
        self._slots = self._free = slots
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

    def resize(self, slots: int) -> None:
        """Changes how many batches run at once (a cluster grew or shrank); running batches
        beyond a smaller count finish undisturbed."""
        if slots < 1:
            raise ValueError(f"bad settings: slots={slots}")
        with self._cond:
            self._free += slots - self._slots
            self._slots = slots
            self._cond.notify()

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


