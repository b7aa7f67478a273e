"""Jobs: submission, lookup, listing with filters and paging, cancellation."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

import store
from store import Database, Job


def test_create_and_get(database: Database) -> None:
    spec = {"space": {"unary": ["x", "sigmoid"], "binary": ["mul"]}, "budget": {"candidates": 10}}
    with database.session() as session:
        job = store.create_job(session=session, name="swish", owner="alice", spec=spec)
    with database.session() as session:
        loaded = store.get_job(session=session, job_id=job.id)
        assert loaded is not None
        assert (loaded.name, loaded.owner, loaded.spec, loaded.status) == ("swish", "alice", spec, "queued")
        assert loaded.phase is None and loaded.cancel_requested is False and loaded.claims == 0
        assert (loaded.evaluations_done, loaded.candidates_done, loaded.rejected, loaded.failed) == (
            0,
            0,
            0,
            0,
        )
        assert loaded.elapsed_seconds == 0.0 and loaded.best_fitness is None
        assert loaded.created_at.tzinfo is None and loaded.started_at is None
        assert store.get_job(session=session, job_id=job.id + 1000) is None


def test_list_filters_and_pages(database: Database, make_job: Callable[..., Job]) -> None:
    ids = [make_job(name=f"Run {i}", owner="alice" if i % 2 else "bob").id for i in range(7)]
    special = make_job(name="100%_done", owner="carol")
    with database.session() as session:
        jobs, total = store.list_jobs(session=session)
        assert total == 8 and [job.id for job in jobs] == [special.id, *reversed(ids)]  # newest first
        page, total = store.list_jobs(session=session, limit=3, offset=2)
        assert total == 8 and [job.id for job in page] == list(reversed(ids))[1:4]
        mine, total = store.list_jobs(session=session, owner="alice")
        assert total == 3 and {job.owner for job in mine} == {"alice"}
        named, total = store.list_jobs(session=session, name="run 3")
        assert total == 1 and named[0].name == "Run 3"
        # % and _ are literal in the name filter
        assert store.list_jobs(session=session, name="0%_")[1] == 1
        assert store.list_jobs(session=session, name="%")[1] == 1
        assert store.list_jobs(session=session, status="running")[1] == 0
        assert store.list_jobs(session=session, status="queued", owner="bob")[1] == 4
        with pytest.raises(ValueError, match="unknown job status"):
            store.list_jobs(session=session, status="done")


def test_cancel_queued_job_at_once(database: Database, make_job: Callable[..., Job]) -> None:
    job = make_job()
    with database.session() as session:
        cancelled = store.request_cancel(session=session, job_id=job.id)
    assert cancelled is not None
    assert (
        cancelled.status == "cancelled" and cancelled.cancel_requested and cancelled.finished_at is not None
    )
    with database.session() as session:
        assert store.claim_job(session=session, runner="r", lease_seconds=60) is None


def test_cancel_running_job_asks_its_runner(database: Database, make_job: Callable[..., Job]) -> None:
    job = make_job()
    with database.session() as session:
        store.claim_job(session=session, runner="r", lease_seconds=60)
    with database.session() as session:
        cancelled = store.request_cancel(session=session, job_id=job.id)
    assert cancelled is not None
    assert cancelled.status == "running" and cancelled.cancel_requested and cancelled.finished_at is None
    with database.session() as session:
        assert store.finish_job(session=session, job_id=job.id, runner="r", status="cancelled")
        done = store.get_job(session=session, job_id=job.id)
        assert done is not None and done.status == "cancelled" and done.lease_owner is None


def test_cancel_finished_or_missing_job(database: Database, make_job: Callable[..., Job]) -> None:
    job = make_job()
    with database.session() as session:
        store.claim_job(session=session, runner="r", lease_seconds=60)
        store.finish_job(session=session, job_id=job.id, runner="r", status="completed")
    with database.session() as session:
        after = store.request_cancel(session=session, job_id=job.id)
        assert after is not None and after.status == "completed" and not after.cancel_requested
        assert store.request_cancel(session=session, job_id=job.id + 1000) is None


def test_count_active_jobs(database: Database, make_job: Callable[..., Job]) -> None:
    first, second, _ = make_job(), make_job(), make_job()
    make_job(owner="bob")
    with database.session() as session:
        store.claim_job(session=session, runner="r", lease_seconds=60)  # first: running
        store.request_cancel(session=session, job_id=second.id)
    with database.session() as session:
        assert store.count_active_jobs(session=session, owner="alice") == 2
        assert store.count_active_jobs(session=session, owner="bob") == 1
        assert store.count_active_jobs(session=session, owner="nobody") == 0
    assert first.id < second.id


def test_a_quota_count_and_the_job_it_admits_are_atomic_on_postgresql(postgres) -> None:
    # Two API processes admitting jobs for one owner at once: the second count must wait
    # for the first transaction, or both would see room for one more job.
    database = store.connect(str(postgres.create_schema()))
    try:
        second_count: list[int] = []
        with database.session() as session:
            assert store.count_active_jobs(session=session, owner="alice") == 0
            other = threading.Thread(target=lambda: second_count.append(_count(database, "alice")))
            other.start()
            other.join(timeout=0.5)
            assert other.is_alive(), "the second count did not wait for the first transaction"
            store.create_job(session=session, name="j", owner="alice", spec={"seed": 0})
        other.join(timeout=30)
        assert second_count == [1]
    finally:
        database.dispose()


def _count(database: Database, owner: str) -> int:
    with database.session() as session:
        return store.count_active_jobs(session=session, owner=owner)
