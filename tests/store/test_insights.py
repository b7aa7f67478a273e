"""A job's aggregates for the dashboard: evaluation counts, rejection reasons, the fitness trace."""

from __future__ import annotations

from collections.abc import Callable

import store
from store import Candidate, Database, Job


def _finish(database: Database, candidate: Candidate, *, seed: int, status: str = "ok", fitness: float | None = None,
            reason: str | None = None, phase: str = "search") -> None:
    with database.session() as session:
        evaluation, _ = store.add_evaluation(session=session, candidate_id=candidate.id, task="t", seed=seed,
                                             steps=10, phase=phase)
        store.finish_evaluation(session=session, evaluation_id=evaluation.id, status=status, fitness=fitness,
                                metrics={}, reason=reason)


def _pending(database: Database, candidate: Candidate, *, seed: int) -> None:
    with database.session() as session:
        store.add_evaluation(session=session, candidate_id=candidate.id, task="t", seed=seed, steps=10)


def test_last_event_id_is_the_jobs_newest(database: Database, make_job: Callable[..., Job]) -> None:
    job, other = make_job(), make_job()
    with database.session() as session:
        assert store.last_event_id(session=session, job_id=job.id) == 0
        last = store.append_event(session=session, job_id=job.id, kind="a", data={}).id
        store.append_event(session=session, job_id=other.id, kind="b", data={})
    with database.session() as session:
        assert store.last_event_id(session=session, job_id=job.id) == last


def test_evaluation_counts_per_candidate_in_the_order_asked(
    database: Database, make_job: Callable[..., Job], make_candidate: Callable[..., Candidate]
) -> None:
    job = make_job()
    a, b, c = (make_candidate(job.id, letter * 32) for letter in "abc")
    _finish(database, a, seed=0, fitness=0.5)
    _finish(database, a, seed=1, status="rejected", reason="unstable")
    _pending(database, a, seed=2)
    _pending(database, c, seed=0)
    with database.session() as session:
        assert store.evaluation_counts(session=session, candidate_ids=[c.id, b.id, a.id]) == [
            {"candidate_id": c.id, "finished": 0, "pending": 1},
            {"candidate_id": b.id, "finished": 0, "pending": 0},
            {"candidate_id": a.id, "finished": 2, "pending": 1},
        ]
        assert store.evaluation_counts(session=session, candidate_ids=[]) == []


def test_rejection_reasons_most_frequent_first(
    database: Database, make_job: Callable[..., Job], make_candidate: Callable[..., Candidate]
) -> None:
    job, other = make_job(), make_job()
    a, b = make_candidate(job.id, "a" * 32), make_candidate(job.id, "b" * 32)
    _finish(database, a, seed=0, status="failed", reason="timeout")
    _finish(database, a, seed=1, status="rejected", reason="unstable")
    _finish(database, b, seed=0, status="rejected", reason="unstable")
    _finish(database, b, seed=1, status="failed")
    _finish(database, b, seed=2, fitness=0.3)
    _finish(database, make_candidate(other.id, "a" * 32), seed=0, status="rejected", reason="unstable")
    with database.session() as session:
        assert store.rejection_reasons(session=session, job_id=job.id) == [
            {"status": "rejected", "reason": "unstable", "count": 2},
            {"status": "failed", "reason": "timeout", "count": 1},
            {"status": "failed", "reason": "unknown", "count": 1},
        ]
        assert store.rejection_reasons(session=session, job_id=make_job().id) == []


def test_fitness_trace_keeps_the_improvements_and_the_last_point(
    database: Database, make_job: Callable[..., Job], make_candidate: Callable[..., Candidate]
) -> None:
    job = make_job()
    a, b, c = (make_candidate(job.id, letter * 32) for letter in "abc")
    with database.session() as session:
        assert store.fitness_trace(session=session, job_id=job.id) == []
    _finish(database, a, seed=0, fitness=0.2)
    _finish(database, b, seed=0, status="rejected", reason="unstable")  # counts, never the best
    _finish(database, b, seed=1, fitness=0.5)
    _finish(database, c, seed=0, fitness=0.4)
    _finish(database, c, seed=1, fitness=0.9, phase="confirm")  # not the search's
    _pending(database, c, seed=2)
    with database.session() as session:
        assert store.fitness_trace(session=session, job_id=job.id) == [
            {"evaluations": 1, "best": 0.2}, {"evaluations": 3, "best": 0.5}, {"evaluations": 4, "best": 0.5}]
