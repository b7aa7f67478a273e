"""Evaluations of one job: stored rows in, executor work out, results written as they arrive.

A candidate is evaluated with several seeds (one row and one executor request each); the search
loop sees one future per candidate that resolves when its last seed is back. Every row is
get-or-created by its unique key (candidate × task × seed × steps), so a row that finished
before a crash is reused, never trained again, and a pending one is simply submitted again.
"""

from __future__ import annotations

import functools
import logging
import math
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import CancelledError, Future

import store
from evaluator import FAILED
from worker._executor import Executor
from worker._request import EvalRequest
from worker._result import CandidateResult, EvalOutcome

log = logging.getLogger(__name__)


class Dispatcher:
    """Submits a job's evaluations to an executor and writes every outcome the moment it
    arrives. A runner that lost or released its lease writes nothing more (the job belongs to
    another runner now, which runs those evaluations again): ``active()`` says so without a
    query, and each write is fenced by the lease in its own transaction, since an outcome can
    arrive on the executor's thread just as the runner releases the job."""

    def __init__(self, *, database: store.Database, executor: Executor, job_id: int, device: str,
                 active: Callable[[], bool], runner: str) -> None:
        self.database = database
        self.executor = executor
        self.job_id = job_id
        self.device = device  # where the job's requests train (``EvalRequest.device``)
        self.active = active
        self.runner = runner
        self._lock = threading.Lock()
        self._outstanding: dict[str, Future[EvalOutcome]] = {}  # by request key

    def rows(self, candidate_id: int, *, task: str, seeds: Sequence[int], steps: int, phase: str
             ) -> list[store.Evaluation]:
        """Gets or creates the evaluation rows of one candidate (detached, safe to read later)."""
        with self.database.session() as session:
            return store.add_evaluations(session=session, candidate_id=candidate_id, task=task, seeds=seeds,
                                         steps=steps, phase=phase)

    def gather(self, requests: Sequence[EvalRequest], finished: Sequence[tuple[str, float | None, str | None]],
               cost: float | None) -> Future[CandidateResult]:
        """One future for a candidate: ``finished`` rows are reused, ``requests`` (keyed by
        their evaluation rows' ids) are submitted."""
        result: Future[CandidateResult] = Future()
        result.set_running_or_notify_cancel()  # a deadline must not cancel work in progress
        done = list(finished)
        if not requests:
            result.set_result(CandidateResult.of(done, cost))
            return result
        remaining = [len(requests)]

        def arrived(request: EvalRequest, future: Future[EvalOutcome]) -> None:
            try:
                outcome = _outcome_of(request, future)
                self.record(outcome)
                with self._lock:
                    self._outstanding.pop(request.key, None)
                    done.append((outcome.status, outcome.fitness, outcome.reason))
                    remaining[0] -= 1
                    last = remaining[0] == 0
                if last:
                    result.set_result(CandidateResult.of(done, cost))
            except BaseException as exc:  # noqa: BLE001 — the loop must hear of it, not hang
                log.exception("recording evaluation %s of job %s failed", request.key, self.job_id,
                              extra={"job_id": self.job_id, "evaluation_id": int(request.key),
                                     "runner": self.runner})
                if not result.done():
                    result.set_exception(exc)

        for request in requests:
            future = self.executor.submit(request)
            with self._lock:
                self._outstanding[request.key] = future
            future.add_done_callback(functools.partial(arrived, request))
        return result

    def record(self, outcome: EvalOutcome) -> None:
        # A cancelled evaluation stays pending: after a cancel the job's status says why, and
        # after a shutdown or a lost lease the runner that resumes the job must run it.
        if not self.active() or outcome.reason == "cancelled":
            return
        fitness = outcome.fitness if outcome.fitness is not None and math.isfinite(outcome.fitness) else None
        try:
            with self.database.session() as session:
                row = self._store(session, outcome, fitness)
        except store.LeaseLost:
            log.info("dropped the result of evaluation %s: job %s was given up", outcome.key, self.job_id,
                     extra={"job_id": self.job_id, "evaluation_id": int(outcome.key), "runner": self.runner})
            return
        log.info("evaluation %s (%s, seed %s, %s steps): %s%s in %.1f s on %s", row.id, row.task, row.seed,
                 row.steps, row.status, f" {fitness:.4f}" if fitness is not None else f" ({row.reason})",
                 row.wall_time or 0.0, row.worker or "?",
                 extra={"job_id": self.job_id, "candidate_id": row.candidate_id, "evaluation_id": row.id,
                        "runner": self.runner})

    def _store(self, session: store.Session, outcome: EvalOutcome, fitness: float | None) -> store.Evaluation:
        """The result and its event, in one transaction fenced by this runner's lease."""
        row = store.finish_evaluation(
            session=session, evaluation_id=int(outcome.key), status=outcome.status, fitness=fitness,
            metrics=outcome.metrics, reason=outcome.reason, detail=outcome.detail,
            wall_time=outcome.wall_time, worker=outcome.worker, runner=self.runner)
        store.append_event(session=session, job_id=self.job_id, kind="evaluation", data={
            "evaluation_id": row.id, "candidate_id": row.candidate_id, "task": row.task, "seed": row.seed,
            "steps": row.steps, "phase": row.phase, "status": row.status, "fitness": fitness,
            "reason": row.reason, "wall_time": row.wall_time})
        return row

    def cancel_outstanding(self) -> int:
        """Asks the executor to drop every evaluation still queued or running."""
        with self._lock:
            futures = list(self._outstanding.values())
        cancel = getattr(self.executor, "cancel", None)
        for future in futures:
            if cancel is not None:
                cancel(future)
            else:
                future.cancel()
        return len(futures)


def _outcome_of(request: EvalRequest, future: Future[EvalOutcome]) -> EvalOutcome:
    try:
        return future.result()
    except CancelledError:
        return EvalOutcome(key=request.key, status=FAILED, fitness=None, metrics={},
                           reason="cancelled", detail=None, wall_time=0.0, worker="", steps=0)
    except Exception as exc:  # noqa: BLE001 — an executor bug still gives the row a reason
        return EvalOutcome(key=request.key, status=FAILED, fitness=None, metrics={},
                           reason="error", detail=f"{type(exc).__name__}: {exc}", wall_time=0.0, worker="",
                           steps=0)
