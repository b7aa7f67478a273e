"""Leases: which runner works on which job, for how long, and what it has saved so far.

A runner claims a job for ``lease_seconds`` and renews the lease while it works (a heartbeat).
A runner that dies stops renewing; once its lease expires any runner may claim the job and
resume it from the saved controller state and stored results. Every write a runner makes about
the job's fate, and every result it stores, is conditional on still holding the lease, so a
runner that was presumed dead (a long GC pause, a network partition) or that released the job
cannot overwrite its successor: it sees ``False`` (or :class:`LeaseLost`) and must stop
working on the job.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement

from store._db import StoreError
from store._encode import check_finite
from store._jobs import execute_dml, get_job
from store._models import JOB_FINISHED, JOB_QUEUED, JOB_RUNNING, PHASES, Job, utcnow

_CLAIM_RACES = 20  # how many lost races (SQLite) before reporting nothing to claim this time


class LeaseLost(StoreError):
    """A runner wrote about a job whose lease it no longer holds (it released the job, or
    another runner claimed it); nothing was written."""


def _claimable(now: Any) -> ColumnElement[bool]:
    """Queued and not being cancelled, or running without a live lease (its runner died, or
    released it at shutdown). A running job whose cancel was requested is still claimable:
    the new runner finishes it as cancelled."""
    queued = and_(Job.status == JOB_QUEUED, Job.cancel_requested.is_(False))
    orphaned = and_(
        Job.status == JOB_RUNNING, or_(Job.lease_expires_at.is_(None), Job.lease_expires_at < now)
    )
    return or_(queued, orphaned)


def claim_job(*, session: Session, runner: str, lease_seconds: float) -> Job | None:
    """Takes the oldest claimable job for ``runner`` (see ``_claimable``), or None.

    Two runners never get the same job. On PostgreSQL the candidate row is locked with
    ``FOR UPDATE SKIP LOCKED``, so concurrent claimers pick different jobs without waiting.
    On SQLite the claim is a conditional UPDATE that re-checks claimability under the write
    lock; a runner that lost the race to another tries the next job.
    """
    for _ in range(_CLAIM_RACES):
        now = utcnow()
        pick = select(Job.id).where(_claimable(now)).order_by(Job.id).limit(1)
        if session.get_bind().dialect.name == "postgresql":
            pick = pick.with_for_update(skip_locked=True)
        job_id = session.scalar(pick)
        if job_id is None:
            return None
        claim = (
            update(Job)
            .where(Job.id == job_id, _claimable(now))
            .values(
                status=JOB_RUNNING,
                lease_owner=runner,
                lease_expires_at=now + timedelta(seconds=lease_seconds),
                started_at=func.coalesce(Job.started_at, now),
                claims=Job.claims + 1,
            )
        )
        if execute_dml(session, claim) == 1:
            return get_job(session=session, job_id=job_id)
    return None


def _held(job_id: int, runner: str) -> ColumnElement[bool]:
    return and_(Job.id == job_id, Job.lease_owner == runner, Job.status == JOB_RUNNING)


def hold_lease(session: Session, job_id: int, runner: str) -> None:
    """Like ``lock_job``, and raises :class:`LeaseLost` unless ``runner`` holds the job's lease:
    the fence for a write that must not outlive the lease (the row lock keeps a concurrent
    release or claim waiting until this transaction ends)."""
    if execute_dml(session, update(Job).where(_held(job_id, runner)).values(updated_at=utcnow())) != 1:
        raise LeaseLost(f"runner {runner!r} no longer holds the lease of job {job_id}")


def renew_lease(*, session: Session, job_id: int, runner: str, lease_seconds: float) -> bool:
    """Extends ``runner``'s lease; False when another runner holds it now (stop working)."""
    expires = utcnow() + timedelta(seconds=lease_seconds)
    return (
        execute_dml(session, update(Job).where(_held(job_id, runner)).values(lease_expires_at=expires)) == 1
    )


def finish_job(
    *,
    session: Session,
    job_id: int,
    runner: str,
    status: str,
    error: str | None = None,
    summary: dict[str, Any] | None = None,
) -> bool:
    """Marks the job completed, failed or cancelled and clears the lease — only if ``runner``
    still holds it (returns whether it did). ``summary`` None keeps the one saved earlier."""
    if status not in JOB_FINISHED:
        raise ValueError(f"a job finishes as one of {', '.join(JOB_FINISHED)}, not {status!r}")
    values: dict[str, Any] = {"status": status, "error": error, "finished_at": utcnow()}
    if summary is not None:
        values["summary"] = summary
    finish = (
        update(Job).where(_held(job_id, runner)).values(lease_owner=None, lease_expires_at=None, **values)
    )
    return execute_dml(session, finish) == 1


def release_job(*, session: Session, job_id: int, runner: str) -> bool:
    """Gives the job back without finishing it (graceful shutdown): another runner may claim
    it at once and resume it. Returns whether ``runner`` held it."""
    release = update(Job).where(_held(job_id, runner)).values(lease_owner=None, lease_expires_at=None)
    return execute_dml(session, release) == 1


def save_progress(
    *,
    session: Session,
    job_id: int,
    controller_state: Any | None = None,
    elapsed_seconds: float | None = None,
    phase: str | None = None,
    runner: str | None = None,
    summary: dict[str, Any] | None = None,
) -> bool:
    """Checkpoints what a runner needs to resume: the controller's state, the search time used
    so far, the phase, the ``summary`` of a finished phase (``{"stop": ...}``: why the search
    ended). Arguments left as None are not changed. With ``runner``, saves only if that runner
    still holds the lease. Returns whether the job was updated."""
    values: dict[str, Any] = {}
    if summary is not None:
        values["summary"] = summary
    if controller_state is not None:
        values["controller_state"] = controller_state
    if elapsed_seconds is not None:
        values["elapsed_seconds"] = check_finite("jobs.elapsed_seconds", elapsed_seconds)
    if phase is not None:
        if phase not in PHASES:
            raise ValueError(f"unknown phase {phase!r}; known: {', '.join(PHASES)}")
        values["phase"] = phase
    condition = _held(job_id, runner) if runner is not None else Job.id == job_id
    return execute_dml(session, update(Job).where(condition).values(updated_at=utcnow(), **values)) == 1
