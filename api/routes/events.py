"""A job's event log as server-sent events, resumable with ``Last-Event-ID``.

Each event is ``id: <event id>``, ``event: <kind>``, ``data: <JSON>``. The stream polls the store
and ends, after a final ``event: end``, once the job is finished and every event was sent; a
quiet stream carries keep-alive comments.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

from anyio import to_thread
from fastapi import APIRouter, Header, Query
from fastapi.responses import StreamingResponse

import store
from api._auth import CurrentToken, owned_job
from api._deps import DatabaseDep, SettingsDep
from api._errors import Invalid, jsonable
from api._schemas import Message, ValidationErrors
from api.routes.jobs import JobId

router = APIRouter(prefix="/jobs", tags=["events"])

BATCH = 500
MAX_EVENT_ID = 2**63 - 1


def format_event(event: store.Event) -> str:
    data = json.dumps(jsonable(event.data), separators=(",", ":"), allow_nan=False)
    return f"id: {event.id}\nevent: {event.kind}\ndata: {data}\n\n"


def _poll(database: store.Database, job_id: int, after: int) -> tuple[list[store.Event], bool]:
    """New events, and whether the job had finished before they were read (then they are all)."""
    with database.session() as session:
        job = store.get_job(session=session, job_id=job_id)
        finished = job is None or job.status in store.JOB_FINISHED
        events = store.events_after(session=session, job_id=job_id, after_id=after, limit=BATCH)
        for event in events:
            session.expunge(event)
        return events, finished


async def stream(database: store.Database, job_id: int, after: int, poll: float, keepalive: float
                 ) -> AsyncIterator[str]:
    yield "retry: 2000\n\n"
    quiet_since = time.monotonic()
    while True:
        events, finished = await to_thread.run_sync(_poll, database, job_id, after)
        for event in events:
            after = event.id
            yield format_event(event)
        if events:
            quiet_since = time.monotonic()
        if finished and len(events) < BATCH:
            yield "event: end\ndata: {}\n\n"
            return
        if len(events) < BATCH:
            if time.monotonic() - quiet_since >= keepalive:
                quiet_since = time.monotonic()
                yield ": keep-alive\n\n"
            await asyncio.sleep(poll)


def _start(last_event_id: str | None, after: int | None) -> int:
    if last_event_id is not None and last_event_id.strip():
        text = last_event_id.strip()
        if not text.isdigit() or int(text) > MAX_EVENT_ID:
            raise Invalid(["header", "last-event-id"], "must be an event id (a non-negative integer)")
        return max(int(text), after or 0)
    return after or 0


EVENT_STREAM: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/event-stream": {"schema": {"type": "string"}, "example":
          'id: 12\nevent: candidate\ndata: {"candidate_id": 7, "fitness": 0.91}\n\n'}},
          "description": "the event stream"},
    401: {"model": Message, "description": "missing, invalid or revoked token"},
    404: {"model": Message, "description": "no such job (or not yours)"},
    422: {"model": ValidationErrors, "description": "invalid input"},
}


@router.get("/{job_id}/events", operation_id="stream_job_events", response_class=StreamingResponse,
            responses=EVENT_STREAM)
def stream_job_events(
    job_id: JobId, principal: CurrentToken, database: DatabaseDep, settings: SettingsDep,
    after: Annotated[int | None, Query(ge=0, le=MAX_EVENT_ID, description="resume after this event id")] = None,
    last_event_id: Annotated[str | None, Header(max_length=32, description="resume after this id")] = None,
) -> StreamingResponse:
    """Server-sent events of the job (``status``, ``proposed``, ``evaluation``, ``candidate``, ...)."""
    start = _start(last_event_id, after)
    with database.session() as session:
        owned_job(session, principal, job_id)
    body = stream(database, job_id, start, settings.sse_poll_seconds, settings.sse_keepalive_seconds)
    return StreamingResponse(body, media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
