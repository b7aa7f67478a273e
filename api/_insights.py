"""Aggregates of one job for the dashboard: operator usage, rejection reasons, the fitness trace.

The counts come from the store (:mod:`store._insights`); what the top candidates are made of is
read here, from their expressions.

Example:
    >>> with database.session() as session:                        # doctest: +SKIP
    ...     insights = job_insights(session=session, job_id=1, top=20)
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import store
from api._views import baselines_of


def job_insights(*, session: store.Session, job_id: int, top: int) -> dict[str, Any]:
    """Everything :class:`~api.routes.dashboard.Insights` shows, read in one transaction."""
    # First, so that an event appended while the rest is read is newer than this snapshot:
    # a client that resumes the event stream here misses nothing.
    last_event_id = store.last_event_id(session=session, job_id=job_id)
    leaders, _ = store.leaderboard(session=session, job_id=job_id, limit=top)
    job = store.get_job(session=session, job_id=job_id)
    # what the search's best functions are made of: the baselines ranking among them are not its finds
    baselines = {b.candidate_id for b in baselines_of(job)} if job is not None else set()
    return {
        "job_id": job_id,
        "last_event_id": last_event_id,
        "top": len(leaders),
        "operators": operator_usage([c for c in leaders if (c.fitness is not None or c.confirmed_mean is not None)
                                     and c.id not in baselines]),
        "evaluations": store.evaluation_counts(session=session, candidate_ids=[c.id for c in leaders]),
        "reasons": store.rejection_reasons(session=session, job_id=job_id),
        "trace": store.fitness_trace(session=session, job_id=job_id),
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

