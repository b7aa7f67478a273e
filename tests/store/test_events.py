"""Job events: ordered, per job, resumable from the last id seen."""

from __future__ import annotations

from collections.abc import Callable

import store
from store import Database, Job


def test_events_are_ordered_and_resumable(database: Database, make_job: Callable[..., Job]) -> None:
    job, other = make_job(), make_job()
    with database.session() as session:
        for i in range(5):
            store.append_event(session=session, job_id=job.id, kind="candidate", data={"i": i})
            store.append_event(session=session, job_id=other.id, kind="candidate", data={"i": -i})
    with database.session() as session:
        events = store.events_after(session=session, job_id=job.id)
        assert [e.data["i"] for e in events] == [0, 1, 2, 3, 4]
        assert all(e.kind == "candidate" and e.job_id == job.id for e in events)
        ids = [e.id for e in events]
        assert ids == sorted(ids) and len(set(ids)) == 5
        # resume after the second event, as an SSE client sending Last-Event-ID does
        resumed = store.events_after(session=session, job_id=job.id, after_id=ids[1])
        assert [e.id for e in resumed] == ids[2:]
        assert [
            e.id for e in store.events_after(session=session, job_id=job.id, after_id=ids[1], limit=2)
        ] == ids[2:4]
        assert store.events_after(session=session, job_id=job.id, after_id=ids[-1]) == []
    with database.session() as session:
        store.append_event(session=session, job_id=job.id, kind="finished", data={"status": "completed"})
    with database.session() as session:
        [latest] = store.events_after(session=session, job_id=job.id, after_id=ids[-1])
        assert latest.kind == "finished" and latest.id > ids[-1] and latest.created_at is not None


def test_ids_are_never_reused(database: Database, make_job: Callable[..., Job]) -> None:
    first = make_job()
    with database.session() as session:
        last = store.append_event(session=session, job_id=first.id, kind="x", data={}).id
        session.delete(session.get(Job, first.id))  # cascades to its events
    second = make_job()
    with database.session() as session:
        event = store.append_event(session=session, job_id=second.id, kind="x", data={})
    assert second.id > first.id and event.id > last
