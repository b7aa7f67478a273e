"""Leases: exactly one runner works on a job; a dead runner's job is taken over."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import update

import store
from store import Database, Job


def _expire(database: Database, job_id: int) -> None:
    with database.session() as session:
        past = store.utcnow() - timedelta(seconds=1)
        session.execute(update(Job).where(Job.id == job_id).values(lease_expires_at=past))


def test_claim_takes_the_oldest_queued_job(database: Database, make_job: Callable[..., Job]) -> None:
    first, second = make_job(), make_job()
    with database.session() as session:
        claimed = store.claim_job(session=session, runner="r1", lease_seconds=30)
    assert claimed is not None and claimed.id == first.id
    assert claimed.status == "running" and claimed.lease_owner == "r1" and claimed.claims == 1
    assert claimed.started_at is not None and claimed.lease_expires_at is not None
    assert timedelta(seconds=25) < claimed.lease_expires_at - store.utcnow() <= timedelta(seconds=30)
    with database.session() as session:
        other = store.claim_job(session=session, runner="r2", lease_seconds=30)
        assert other is not None and other.id == second.id
        assert store.claim_job(session=session, runner="r3", lease_seconds=30) is None


def test_concurrent_claimers_never_share_a_job(
    database: Database, database_url: str, make_job: Callable[..., Job]
) -> None:
    jobs = {make_job().id for _ in range(6)}
    claimed: list[tuple[str, int]] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def runner(name: str) -> None:
        db = store.connect(database_url, migrate=False)  # a separate engine: a separate process
        try:
            barrier.wait()
            while True:
                with db.session() as session:
                    job = store.claim_job(session=session, runner=name, lease_seconds=60)
                if job is None:
                    return
                claimed.append((name, job.id))
        except BaseException as error:
            errors.append(error)
        finally:
            db.dispose()

    threads = [threading.Thread(target=runner, args=(f"r{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(job_id for _, job_id in claimed) == sorted(jobs)  # each job exactly once
    with database.session() as session:
        for name, job_id in claimed:
            job = store.get_job(session=session, job_id=job_id)
            assert job is not None and job.lease_owner == name and job.claims == 1


def test_only_one_of_two_claimers_gets_a_single_job(database_url: str, make_job: Callable[..., Job]) -> None:
    job = make_job()
    results: list[int | None] = []
    barrier = threading.Barrier(2)

    def runner(name: str) -> None:
        db = store.connect(database_url, migrate=False)
        try:
            barrier.wait()
            with db.session() as session:
                claimed = store.claim_job(session=session, runner=name, lease_seconds=60)
                results.append(None if claimed is None else claimed.id)
        finally:
            db.dispose()

    threads = [threading.Thread(target=runner, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results, key=str) == sorted([job.id, None], key=str)


def test_expired_lease_is_taken_over(database: Database, make_job: Callable[..., Job]) -> None:
    job = make_job()
    with database.session() as session:
        assert store.claim_job(session=session, runner="old", lease_seconds=60) is not None
        assert store.claim_job(session=session, runner="new", lease_seconds=60) is None  # lease is live
        assert store.renew_lease(session=session, job_id=job.id, runner="old", lease_seconds=60)
    _expire(database, job.id)
    with database.session() as session:
        taken = store.claim_job(session=session, runner="new", lease_seconds=60)
    assert taken is not None and taken.id == job.id and taken.lease_owner == "new" and taken.claims == 2
    with database.session() as session:
        # the old runner learns it lost the job, and can no longer change its fate
        assert not store.renew_lease(session=session, job_id=job.id, runner="old", lease_seconds=60)
        assert not store.finish_job(session=session, job_id=job.id, runner="old", status="completed")
        assert not store.release_job(session=session, job_id=job.id, runner="old")
        assert not store.save_progress(
            session=session, job_id=job.id, runner="old", controller_state={"x": 1}
        )
        assert store.renew_lease(session=session, job_id=job.id, runner="new", lease_seconds=60)
        assert store.finish_job(
            session=session, job_id=job.id, runner="new", status="completed", summary={"a": 1}
        )
    with database.session() as session:
        done = store.get_job(session=session, job_id=job.id)
        assert done is not None and done.status == "completed" and done.summary == {"a": 1}
        assert done.lease_owner is None and done.lease_expires_at is None and done.finished_at is not None
        assert done.started_at == taken.started_at  # started once, claimed twice
        assert done.controller_state is None
        _expire(database, job.id)
        assert store.claim_job(session=session, runner="late", lease_seconds=60) is None  # finished


def test_cancel_requested_queued_job_is_not_claimed(database: Database, make_job: Callable[..., Job]) -> None:
    job = make_job()
    with database.session() as session:
        session.execute(update(Job).where(Job.id == job.id).values(cancel_requested=True))
    with database.session() as session:
        assert store.claim_job(session=session, runner="r", lease_seconds=60) is None


def test_released_job_is_claimable_at_once(database: Database, make_job: Callable[..., Job]) -> None:
    job = make_job()
    with database.session() as session:
        store.claim_job(session=session, runner="old", lease_seconds=600)
        assert store.release_job(session=session, job_id=job.id, runner="old")
    with database.session() as session:
        released = store.get_job(session=session, job_id=job.id)
        assert released is not None and released.status == "running" and released.lease_owner is None
        taken = store.claim_job(session=session, runner="new", lease_seconds=600)
        assert taken is not None and taken.id == job.id and taken.lease_owner == "new"


def test_finish_job_validates_status(database: Database, make_job: Callable[..., Job]) -> None:
    job = make_job()
    with database.session() as session:
        store.claim_job(session=session, runner="r", lease_seconds=60)
        with pytest.raises(ValueError, match="completed, failed, cancelled"):
            store.finish_job(session=session, job_id=job.id, runner="r", status="running")
        assert store.finish_job(
            session=session, job_id=job.id, runner="r", status="failed", error="Traceback ..."
        )
    with database.session() as session:
        failed = store.get_job(session=session, job_id=job.id)
        assert failed is not None and failed.status == "failed" and failed.error == "Traceback ..."


def test_save_progress(database: Database, make_job: Callable[..., Job]) -> None:
    job = make_job()
    state = {"population": [[1.0, float("nan")]], "rng": [1, 2, 3]}
    with database.session() as session:
        store.claim_job(session=session, runner="r", lease_seconds=60)
        assert store.save_progress(
            session=session, job_id=job.id, controller_state=state, elapsed_seconds=12.5
        )
        assert store.save_progress(session=session, job_id=job.id, phase="confirm", runner="r")
        with pytest.raises(ValueError, match="unknown phase"):
            store.save_progress(session=session, job_id=job.id, phase="train")
        assert not store.save_progress(session=session, job_id=job.id + 1000, phase="search")
    with database.session() as session:
        saved = store.get_job(session=session, job_id=job.id)
        assert saved is not None and saved.phase == "confirm" and saved.elapsed_seconds == 12.5
        assert repr(saved.controller_state) == repr(state)  # nan compares unequal; its repr does not


def test_a_result_is_stored_only_while_its_runner_holds_the_lease(
    database: Database, make_job: Callable[..., Job], make_candidate: Callable[..., store.Candidate]
) -> None:
    job = make_job()
    candidate = make_candidate(job.id, "f1")
    with database.session() as session:
        store.claim_job(session=session, runner="old", lease_seconds=600)
        ids = [store.add_evaluation(session=session, candidate_id=candidate.id, task="t", seed=seed, steps=10)[0].id
               for seed in range(3)]

    def finish(evaluation_id: int, runner: str) -> store.Evaluation:
        with database.session() as session:
            return store.finish_evaluation(session=session, evaluation_id=evaluation_id, status="ok",
                                           fitness=0.5, metrics={}, runner=runner)

    assert finish(ids[0], "old").status == "ok"  # the holder writes
    with database.session() as session:
        assert store.release_job(session=session, job_id=job.id, runner="old")
    with pytest.raises(store.LeaseLost, match="'old' no longer holds the lease of job"):
        finish(ids[1], "old")  # released: a late result of the old run is dropped
    with database.session() as session:
        store.claim_job(session=session, runner="new", lease_seconds=600)
    with pytest.raises(store.LeaseLost):
        finish(ids[1], "old")  # and still dropped once another runner resumed the job
    assert finish(ids[1], "new").status == "ok"
    with database.session() as session:
        rows = {e.id: e for e in store.list_evaluations(session=session, candidate_id=candidate.id)}
        resumed = store.get_job(session=session, job_id=job.id)
    assert [rows[i].status for i in ids] == ["ok", "ok", "pending"]
    assert resumed is not None and resumed.evaluations_done == 2
