"""Service-wide numbers for monitoring."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import update

import store
from store import Candidate, Database, Evaluation, Job


def test_service_stats(
    database: Database, make_job: Callable[..., Job], make_candidate: Callable[..., Candidate]
) -> None:
    with database.session() as session:
        empty = store.service_stats(session=session)
    assert empty["jobs"] == dict.fromkeys(store.JOB_STATUSES, 0) and empty["queue_depth"] == 0
    running, _, _, cancelled = make_job(), make_job(), make_job(), make_job()
    with database.session() as session:
        store.claim_job(session=session, runner="r", lease_seconds=60)
        store.request_cancel(session=session, job_id=cancelled.id)
    candidate = make_candidate(running.id, "a" * 32)
    with database.session() as session:
        ids = [
            store.add_evaluation(session=session, candidate_id=candidate.id, task="t", seed=s, steps=10)[0].id
            for s in range(5)
        ]
        for evaluation_id, status in zip(ids, ["ok", "ok", "rejected", "failed"], strict=False):
            store.finish_evaluation(
                session=session, evaluation_id=evaluation_id, status=status, fitness=None, metrics={}
            )
        # one result finished long ago: not in the last minute
        old = store.utcnow() - timedelta(minutes=10)
        session.execute(update(Evaluation).where(Evaluation.id == ids[0]).values(finished_at=old))
    with database.session() as session:
        stats = store.service_stats(session=session)
    assert stats["jobs"] == {"queued": 2, "running": 1, "completed": 0, "failed": 0, "cancelled": 1}
    assert stats["queue_depth"] == 2
    assert stats["evaluations_finished"] == 4 and stats["evaluations_last_minute"] == 3
    assert stats["evaluations_failed"] == 1 and stats["evaluations_rejected"] == 1
    assert stats["evaluations_pending"] == 1
