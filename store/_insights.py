"""Aggregates of one job for the dashboard: evaluation counts, rejection reasons, the fitness trace.

Summed up in the database so that the browser never downloads a job's every evaluation to draw
one chart.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from store._models import FAILED, OK, PENDING, PHASE_SEARCH, REJECTED, Evaluation, Event


def last_event_id(*, session: Session, job_id: int) -> int:
    """The id of the job's newest event (0 when it has none): where a client that read a
    snapshot resumes the event stream."""
    return int(session.scalar(select(func.max(Event.id)).where(Event.job_id == job_id)) or 0)


def evaluation_counts(*, session: Session, candidate_ids: Sequence[int]) -> list[dict[str, Any]]:
    """Finished and pending evaluations (any phase) of each candidate, in the order given."""
    if not candidate_ids:
        return []
    query = (select(Evaluation.candidate_id, Evaluation.status, func.count())
             .where(Evaluation.candidate_id.in_(list(candidate_ids))).group_by(Evaluation.candidate_id, Evaluation.status))
    counts: dict[int, dict[str, int]] = {i: {"finished": 0, "pending": 0} for i in candidate_ids}
    for candidate_id, status, n in session.execute(query):
        counts[candidate_id]["pending" if status == PENDING else "finished"] += n
    return [{"candidate_id": i, **counts[i]} for i in candidate_ids]


def rejection_reasons(*, session: Session, job_id: int) -> list[dict[str, Any]]:
    """The job's rejected and failed evaluations grouped by status and reason, most frequent first."""
    query = (select(Evaluation.status, Evaluation.reason, func.count())
             .where(Evaluation.job_id == job_id, Evaluation.status.in_((REJECTED, FAILED)))
             .group_by(Evaluation.status, Evaluation.reason))
    rows = [{"status": status, "reason": reason or "unknown", "count": n} for status, reason, n in session.execute(query)]
    return sorted(rows, key=lambda row: (-row["count"], row["status"], row["reason"]))


def fitness_trace(*, session: Session, job_id: int) -> list[dict[str, Any]]:
    """Best search fitness after n finished search evaluations, in the order they finished.

    Only the points where the best improves, and the last one: the step function is the same
    and a long search sends a few dozen points instead of every evaluation.
    """
    query = (select(Evaluation.status, Evaluation.fitness)
             .where(Evaluation.job_id == job_id, Evaluation.phase == PHASE_SEARCH, Evaluation.status != PENDING)
             .order_by(Evaluation.finished_at, Evaluation.id))
    trace: list[dict[str, Any]] = []
    best: float | None = None
    n = 0
    for n, (status, fitness) in enumerate(session.execute(query), start=1):
        if status == OK and fitness is not None and (best is None or fitness > best):
            best = fitness
            trace.append({"evaluations": n, "best": best})
    if n and (not trace or trace[-1]["evaluations"] != n):
        trace.append({"evaluations": n, "best": best})
    return trace
