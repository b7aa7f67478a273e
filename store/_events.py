"""Job events: the append-only log that clients follow (server-sent events, resumable)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from store._jobs import lock_job
from store._models import Event


def append_event(*, session: Session, job_id: int, kind: str, data: dict[str, Any]) -> Event:
    """Appends an event to the job's log; its ``id`` orders it among all events.

    The job row is locked first: on PostgreSQL ids come from a sequence when a row is
    inserted, not when it is committed, so without the lock a reader could see event 8 before
    a slower transaction commits event 7, and a client resuming "after 8" would never see 7.
    Serialized per job, ids become visible in order.
    """
    lock_job(session, job_id)
    event = Event(job_id=job_id, kind=kind, data=data)
    session.add(event)
    session.flush()
    return event


def events_after(*, session: Session, job_id: int, after_id: int = 0, limit: int = 500) -> list[Event]:
    """The job's events with ``id > after_id`` in order: pass the last id seen to resume
    (it is the SSE ``Last-Event-ID``)."""
    query = select(Event).where(Event.job_id == job_id, Event.id > after_id).order_by(Event.id).limit(limit)
    return list(session.scalars(query))
