"""Aggregates of one job for the dashboard: operator usage, rejection reasons, the fitness trace.

Plain queries over the store's tables, summed up here so that the browser never downloads a
job's every evaluation to draw one chart.

Example:
    >>> with database.session() as session:                        # doctest: +SKIP
    ...     insights = job_insights(session=session, job_id=1, top=20)
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

import store
from api._views import baselines_of


def job_insights(*, session: Session, job_id: int, top: int) -> dict[str, Any]:
    """Everything :class:`~api.routes.dashboard.Insights` shows, read in one transaction."""
    # First, so that an event appended while the rest is read is newer than this snapshot:
    # a client that resumes the event stream here misses nothing.
    last_event_id = session.scalar(select(func.max(store.Event.id)).where(store.Event.job_id == job_id)) or 0
    leaders, _ = store.leaderboard(session=session, job_id=job_id, limit=top)
    job = store.get_job(session=session, job_id=job_id)
    # what the search's best functions are made of: the baselines ranking among them are not its finds
    baselines = {b.candidate_id for b in baselines_of(job)} if job is not None else set()
    return {
        "job_id": job_id,
        "last_event_id": int(last_event_id),
        "top": len(leaders),
        "operators": operator_usage([c for c in leaders if (c.fitness is not None or c.confirmed_mean is not None)
                                     and c.id not in baselines]),
        "evaluations": evaluation_counts(session, [c.id for c in leaders]),
        "reasons": reasons(session, job_id),
        "trace": fitness_trace(session, job_id),
    }


def operator_usage(candidates: list[store.Candidate]) -> list[dict[str, Any]]:
    """How many of ``candidates`` use each operator (once per candidate), most used first."""
    from space import OPERATORS, Expr, ExprError

    used: Counter[str] = Counter()
    for candidate in candidates:
        try:
            used.update(Expr.from_json(candidate.expr_json).operators())
        except (ExprError, TypeError, ValueError, KeyError):  # a row written by an older version
            continue
    return [{"name": name, "arity": OPERATORS[name].arity if name in OPERATORS else None, "candidates": n}
            for name, n in sorted(used.items(), key=lambda item: (-item[1], item[0]))]


def evaluation_counts(session: Session, candidate_ids: list[int]) -> list[dict[str, Any]]:
    """Finished and pending evaluations (any phase) of each candidate."""
    if not candidate_ids:
        return []
    E = store.Evaluation
    query = (select(E.candidate_id, E.status, func.count()).where(E.candidate_id.in_(candidate_ids))
             .group_by(E.candidate_id, E.status))
    counts: dict[int, dict[str, int]] = {i: {"finished": 0, "pending": 0} for i in candidate_ids}
    for candidate_id, status, n in session.execute(query):
        counts[candidate_id]["pending" if status == store.PENDING else "finished"] += n
    return [{"candidate_id": i, **counts[i]} for i in candidate_ids]


def reasons(session: Session, job_id: int) -> list[dict[str, Any]]:
    """Rejected and failed evaluations grouped by status and reason, most frequent first."""
    E = store.Evaluation
    query = (select(E.status, E.reason, func.count()).where(E.job_id == job_id,
                                                            E.status.in_((store.REJECTED, store.FAILED)))
             .group_by(E.status, E.reason))
    rows = [{"status": status, "reason": reason or "unknown", "count": n} for status, reason, n in session.execute(query)]
    return sorted(rows, key=lambda row: (-row["count"], row["status"], row["reason"]))


def fitness_trace(session: Session, job_id: int) -> list[dict[str, Any]]:
    """Best search fitness after n finished search evaluations, in the order they finished.

    Only the points where the best improves, and the last one: the step function is the same
    and a long search sends a few dozen points instead of every evaluation.
    """
    E = store.Evaluation
    query = (select(E.status, E.fitness)
             .where(E.job_id == job_id, E.phase == store.PHASE_SEARCH, E.status != store.PENDING)
             .order_by(E.finished_at, E.id))
    trace: list[dict[str, Any]] = []
    best: float | None = None
    n = 0
    for n, (status, fitness) in enumerate(session.execute(query), start=1):
        if status == store.OK and fitness is not None and (best is None or fitness > best):
            best = fitness
            trace.append({"evaluations": n, "best": best})
    if n and (not trace or trace[-1]["evaluations"] != n):
        trace.append({"evaluations": n, "best": best})
    return trace
