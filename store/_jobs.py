"""Jobs: submission, lookup, listing and cancellation."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Executable, Result, func, select, text, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from store._db import StoreError
from store._models import JOB_ACTIVE, JOB_CANCELLED, JOB_QUEUED, JOB_RUNNING, JOB_STATUSES, Job, utcnow


def execute_dml(session: Session, statement: Executable) -> int:
    """Runs an UPDATE/DELETE and returns how many rows it changed.

    Conditional updates (``WHERE lease_owner = :runner``) are how this store makes decisions
    that two processes may race for: the database applies them atomically on both backends.
    """
    result = session.execute(statement, execution_options={"synchronize_session": False})
    return int(cast(CursorResult[Any], result).rowcount)


def execute_plain(session: Session, query: Executable, params: dict[str, Any]) -> Result[Any]:
    """Runs a SELECT of columns on the session's connection: plain rows need none of the ORM's
    bookkeeping and read in about a third of the time (what every request reads: its token, its
    job, a leaderboard page). The ORM would flush pending changes first; so does this."""
    if session.autoflush:
        session.flush()
    return session.connection().execute(query, params)


def lock_job(session: Session, job_id: int) -> None:
    """Serializes writers of one job until the transaction ends; raises if there is no such job.

    A no-op write to the job row: on PostgreSQL it takes the row lock (like ``FOR UPDATE``), on
    SQLite it opens the write transaction, so reads that follow see every committed write and
    no other writer can interleave. Writers that touch several rows take this lock first, so
    lock order is always job row first and no deadlock is possible.
    """
    if execute_dml(session, update(Job).where(Job.id == job_id).values(updated_at=utcnow())) != 1:
        raise StoreError(f"job {job_id} does not exist")


def create_job(*, session: Session, name: str, owner: str, spec: dict[str, Any]) -> Job:
    """Stores a new job, queued. ``spec`` is the full validated JobSpec (defaults filled in)."""
    job = Job(name=name, owner=owner, spec=spec, status=JOB_QUEUED)
    session.add(job)
    session.flush()
    return job


def get_job(*, session: Session, job_id: int) -> Job | None:
    return session.get(Job, job_id, populate_existing=True)


def list_jobs(
    *,
    session: Session,
    owner: str | None = None,
    status: str | None = None,
    name: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[Job], int]:
    """One page of jobs, newest first, and the number of jobs matching the filters.

    ``name`` matches a case-insensitive substring; ``%`` and ``_`` in it are literal.
    """
    if status is not None and status not in JOB_STATUSES:
        raise ValueError(f"unknown job status {status!r}; known: {', '.join(JOB_STATUSES)}")
    conditions = []
    if owner is not None:
        conditions.append(Job.owner == owner)
    if status is not None:
        conditions.append(Job.status == status)
    if name:
        escaped = name.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        conditions.append(Job.name.ilike(f"%{escaped}%", escape="\\"))
    total = session.scalar(select(func.count()).select_from(Job).where(*conditions)) or 0
    page = select(Job).where(*conditions).order_by(Job.id.desc()).limit(limit).offset(offset)
    return list(session.scalars(page.execution_options(populate_existing=True))), int(total)


def request_cancel(*, session: Session, job_id: int) -> Job | None:
    """Cancels a job: a queued one at once, a running one at its runner's next check
    (``cancel_requested``); a finished job is left as it is. None when there is no such job."""
    now = utcnow()
    queued = update(Job).where(Job.id == job_id, Job.status == JOB_QUEUED)
    if not execute_dml(session, queued.values(status=JOB_CANCELLED, cancel_requested=True, finished_at=now)):
        running = update(Job).where(Job.id == job_id, Job.status == JOB_RUNNING)
        execute_dml(session, running.values(cancel_requested=True))
    return get_job(session=session, job_id=job_id)


def count_active_jobs(*, session: Session, owner: str) -> int:
    """Jobs of ``owner`` that are queued or running (for the per-token concurrency quota).

    On PostgreSQL the count takes a transaction-scoped lock on the owner first, so that the
    count and a following :func:`create_job` are atomic across API processes and machines.
    (On SQLite every API process is on one machine; ``api`` serializes its own writers.)
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": f"actsearch-quota:{owner}"})
    query = select(func.count()).select_from(Job).where(Job.owner == owner, Job.status.in_(JOB_ACTIVE))
    return int(session.scalar(query) or 0)
