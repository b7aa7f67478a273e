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
import statistics
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import CancelledError, Future
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

import store
from worker._executor import EvalOutcome, EvalRequest, Executor

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CandidateResult:
    """What the search loop is told about one candidate at one fidelity: the mean over seeds
    when every seed trained, else None with the first failing seed's status and reason."""

    fitness: float | None
    cost: float | None
    status: str
    reason: str | None
    seeds: tuple[float | None, ...]

    @classmethod
    def of(cls, rows: Sequence[tuple[str, float | None, str | None]], cost: float | None) -> CandidateResult:
        bad = [(status, reason) for status, _, reason in rows if status != store.OK]
        values = tuple(fitness for _, fitness, _ in rows)
        if bad or any(v is None or not math.isfinite(v) for v in values):
            status, reason = bad[0] if bad else (store.FAILED, "nonfinite_fitness")
            return cls(None, cost, status, reason, values)
        return cls(statistics.fmean(v for v in values if v is not None), cost, store.OK, None, values)


@dataclass(frozen=True)
class Work:
    """One evaluation row to run: its id, the task and fidelity it names; for a rung of a
    multi-fidelity search the schedule's ``horizon`` and the rung below (``resume_from``)."""

    evaluation_id: int
    expression: str
    task: str
    options: dict[str, Any]
    seed: int
    steps: int
    horizon: int | None = None
    resume_from: int | None = None
    precision: str = "fp32"
    rejection: dict[str, Any] | None = None  # the job's rejection policy; None: the default


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
        self.device = device
        self.active = active
        self.runner = runner
        self._lock = threading.Lock()
        self._outstanding: dict[int, Future[EvalOutcome]] = {}

    def rows(self, candidate_id: int, *, task: str, seeds: Sequence[int], steps: int, phase: str
             ) -> list[store.Evaluation]:
        """Gets or creates the evaluation rows of one candidate (expunged, safe to read later)."""
        with self.database.session() as session:
            rows = [store.add_evaluation(session=session, candidate_id=candidate_id, task=task, seed=seed,
                                         steps=steps, phase=phase)[0] for seed in seeds]
            session.flush()
            for row in rows:
                session.refresh(row)
            session.expunge_all()
        return rows

    def gather(self, work: Sequence[Work], finished: Sequence[tuple[str, float | None, str | None]],
               cost: float | None) -> Future[CandidateResult]:
        """One future for a candidate: ``finished`` rows are reused, ``work`` is submitted."""
        result: Future[CandidateResult] = Future()
        result.set_running_or_notify_cancel()  # a deadline must not cancel work in progress
        done = list(finished)
        if not work:
            result.set_result(CandidateResult.of(done, cost))
            return result
        remaining = [len(work)]

        def arrived(item: Work, future: Future[EvalOutcome]) -> None:
            try:
                outcome = _outcome_of(item, future)
                self.record(outcome)
                with self._lock:
                    self._outstanding.pop(item.evaluation_id, None)
                    done.append((outcome.status, outcome.fitness, outcome.reason))
                    remaining[0] -= 1
                    last = remaining[0] == 0
                if last:
                    result.set_result(CandidateResult.of(done, cost))
            except BaseException as exc:  # noqa: BLE001 — the loop must hear of it, not hang
                log.exception("recording evaluation %s of job %s failed", item.evaluation_id, self.job_id,
                              extra={"job_id": self.job_id, "evaluation_id": item.evaluation_id,
                                     "runner": self.runner})
                if not result.done():
                    result.set_exception(exc)

        for item in work:
            future = self.executor.submit(EvalRequest(
                key=str(item.evaluation_id), expression=item.expression, task=item.task,
                task_options=item.options, seed=item.seed, steps=item.steps, device=self.device,
                horizon=item.horizon, resume_from=item.resume_from, precision=item.precision,
                rejection=item.rejection))
            with self._lock:
                self._outstanding[item.evaluation_id] = future
            future.add_done_callback(functools.partial(arrived, item))
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

    def _store(self, session: Session, outcome: EvalOutcome, fitness: float | None) -> store.Evaluation:
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


def _outcome_of(item: Work, future: Future[EvalOutcome]) -> EvalOutcome:
    try:
        return future.result()
    except CancelledError:
        return EvalOutcome(key=str(item.evaluation_id), status=store.FAILED, fitness=None, metrics={},
                           reason="cancelled", detail=None, wall_time=0.0, worker="", steps=0)
    except Exception as exc:  # noqa: BLE001 — an executor bug still gives the row a reason
        return EvalOutcome(key=str(item.evaluation_id), status=store.FAILED, fitness=None, metrics={},
                           reason="error", detail=f"{type(exc).__name__}: {exc}", wall_time=0.0, worker="",
                           steps=0)
