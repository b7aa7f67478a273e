"""Service-wide numbers for the Prometheus endpoint."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from store._models import FAILED, JOB_QUEUED, JOB_STATUSES, PENDING, REJECTED, Evaluation, Job, utcnow

RECENT = timedelta(seconds=60)


def service_stats(*, session: Session) -> dict[str, Any]:
    """Counts for monitoring, as one dict:

    - ``jobs``: the number of jobs in each status (every status present, 0 when none);
    - ``queue_depth``: jobs waiting for a runner (queued);
    - ``evaluations_finished``, ``evaluations_failed``, ``evaluations_rejected``: all time;
    - ``evaluations_last_minute``: evaluations finished in the last 60 seconds;
    - ``evaluations_pending``: evaluations waiting for a result.
    """
    jobs = dict.fromkeys(JOB_STATUSES, 0)
    for status, count in session.execute(select(Job.status, func.count()).group_by(Job.status)):
        jobs[status] = int(count)
    evaluations = {
        status: int(count)
        for status, count in session.execute(
            select(Evaluation.status, func.count()).group_by(Evaluation.status)
        )
    }
    recent = select(func.count()).select_from(Evaluation).where(Evaluation.finished_at >= utcnow() - RECENT)
    return {
        "jobs": jobs,
        "queue_depth": jobs[JOB_QUEUED],
        "evaluations_finished": sum(n for status, n in evaluations.items() if status != PENDING),
        "evaluations_last_minute": int(session.scalar(recent) or 0),
        "evaluations_failed": evaluations.get(FAILED, 0),
        "evaluations_rejected": evaluations.get(REJECTED, 0),
        "evaluations_pending": evaluations.get(PENDING, 0),
    }
