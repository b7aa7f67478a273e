"""Candidates and evaluations: stored once, never evaluated twice, summarized exactly."""

from __future__ import annotations

import statistics
import threading
from collections.abc import Callable

import pytest
from sqlalchemy import func, select

import store
from store import Candidate, Database, Evaluation, Job


def test_candidate_is_stored_once_per_job(
    database: Database, make_job: Callable[..., Job], make_candidate: Callable[..., Candidate]
) -> None:
    job, other = make_job(), make_job()
    first = make_candidate(job.id, "f" * 32, "x*sigmoid(x)")
    second = make_candidate(job.id, "s" * 32, "relu(x)")
    again = make_candidate(job.id, "f" * 32, "x/(1+exp(-x))")  # same function, written otherwise
    elsewhere = make_candidate(other.id, "f" * 32, "x*sigmoid(x)")
    assert (first.number, second.number, elsewhere.number) == (1, 2, 1)
    assert again.id == first.id and again.expression == "x*sigmoid(x)"
    with database.session() as session:
        found = store.find_candidate(session=session, job_id=job.id, fingerprint="f" * 32)
        assert found is not None and found.id == first.id
        assert store.find_candidate(session=session, job_id=job.id, fingerprint="x" * 32) is None
        loaded = store.get_candidate(session=session, candidate_id=second.id)
        assert loaded is not None and loaded.properties == {"monotonic": True} and loaded.status == "pending"
        assert loaded.torch_source.startswith("def f(x)")
        assert store.count_candidates(session=session, job_id=job.id) == 2
        assert store.get_candidate(session=session, candidate_id=10_000) is None


def test_concurrent_writers_store_each_function_once(
    database: Database, database_url: str, make_job: Callable[..., Job]
) -> None:
    job = make_job()
    errors: list[BaseException] = []
    barrier = threading.Barrier(3)

    def writer() -> None:
        db = store.connect(database_url, migrate=False)
        try:
            barrier.wait()
            for i in range(8):
                with db.session() as session:
                    candidate = store.add_candidate(
                        session=session, job_id=job.id, fingerprint=f"{i:032d}", expression=f"e{i}",
                        expr_json={}, canonical=f"e{i}", latex="", torch_source="", properties={},
                    )  # fmt: skip
                    store.add_evaluation(
                        session=session, candidate_id=candidate.id, task="t", seed=0, steps=10
                    )
        except BaseException as error:
            errors.append(error)
        finally:
            db.dispose()

    threads = [threading.Thread(target=writer) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with database.session() as session:
        numbers = session.scalars(select(Candidate.number).where(Candidate.job_id == job.id)).all()
        assert sorted(numbers) == list(range(1, 9))
        assert session.scalar(select(func.count()).select_from(Evaluation)) == 8


def test_evaluation_is_never_created_twice(
    database: Database, make_job: Callable[..., Job], make_candidate: Callable[..., Candidate]
) -> None:
    candidate = make_candidate(make_job().id, "a" * 32)
    with database.session() as session:
        first, created = store.add_evaluation(
            session=session, candidate_id=candidate.id, task="t", seed=0, steps=100
        )
        assert created and first.status == "pending" and first.phase == "search" and first.attempts == 0
    with database.session() as session:
        store.finish_evaluation(session=session, evaluation_id=first.id, status="ok", fitness=0.5, metrics={})
    with database.session() as session:
        # the confirm phase asking for the same run gets the stored result
        again, created = store.add_evaluation(
            session=session, candidate_id=candidate.id, task="t", seed=0, steps=100, phase="confirm"
        )
        assert not created and again.id == first.id and again.status == "ok" and again.phase == "search"
        other, created = store.add_evaluation(
            session=session, candidate_id=candidate.id, task="t", seed=1, steps=100
        )
        assert created and other.id != first.id
        assert session.scalar(select(func.count()).select_from(Evaluation)) == 2
        with pytest.raises(ValueError, match="unknown phase"):
            store.add_evaluation(
                session=session, candidate_id=candidate.id, task="t", seed=2, steps=1, phase="x"
            )
        with pytest.raises(store.StoreError, match="candidate 999999 does not exist"):
            store.add_evaluation(session=session, candidate_id=999_999, task="t", seed=0, steps=1)


def _evaluate(
    database: Database,
    candidate: Candidate,
    *,
    seed: int,
    steps: int,
    status: str = "ok",
    fitness: float | None = None,
    phase: str = "search",
    task: str = "t",
) -> Evaluation:
    with database.session() as session:
        evaluation, _ = store.add_evaluation(
            session=session, candidate_id=candidate.id, task=task, seed=seed, steps=steps, phase=phase
        )
        return store.finish_evaluation(
            session=session,
            evaluation_id=evaluation.id,
            status=status,
            fitness=fitness,
            metrics={"loss": 0.1},
        )


def _reload(database: Database, candidate: Candidate) -> tuple[Candidate, Job]:
    with database.session() as session:
        fresh = store.get_candidate(session=session, candidate_id=candidate.id)
        assert fresh is not None
        job = store.get_job(session=session, job_id=fresh.job_id)
        assert job is not None
        return fresh, job


def test_finishing_updates_candidate_and_job(
    database: Database, make_job: Callable[..., Job], make_candidate: Callable[..., Candidate]
) -> None:
    job = make_job()
    good, bad, broken = (make_candidate(job.id, c * 32) for c in "gbx")
    finished = _evaluate(database, good, seed=0, steps=100, fitness=0.6)
    assert finished.status == "ok" and finished.fitness == 0.6 and finished.finished_at is not None
    _evaluate(database, good, seed=1, steps=100, fitness=0.8)
    candidate, job_row = _reload(database, good)
    assert (candidate.status, candidate.fidelity, candidate.fitness) == ("ok", 100, pytest.approx(0.7))
    assert (job_row.evaluations_done, job_row.candidates_done, job_row.best_fitness) == (
        2,
        1,
        pytest.approx(0.7),
    )

    # a higher fidelity replaces the lower one, even when it is worse
    _evaluate(database, good, seed=0, steps=1000, fitness=0.5)
    candidate, job_row = _reload(database, good)
    assert (candidate.fidelity, candidate.fitness) == (1000, 0.5) and job_row.best_fitness == 0.5

    _evaluate(database, bad, seed=0, steps=100, status="rejected")
    _evaluate(database, broken, seed=0, steps=100, status="failed")
    _evaluate(database, broken, seed=1, steps=100, status="failed")
    candidate, job_row = _reload(database, bad)
    assert (candidate.status, candidate.fitness, candidate.fidelity) == ("rejected", None, 100)
    candidate, job_row = _reload(database, broken)
    assert (candidate.status, candidate.fitness, candidate.fidelity) == ("failed", None, None)
    assert (job_row.evaluations_done, job_row.rejected, job_row.failed, job_row.candidates_done) == (
        6,
        1,
        2,
        3,
    )

    # a crashed run at a higher fidelity says nothing about the function
    _evaluate(database, good, seed=0, steps=5000, status="failed")
    candidate, job_row = _reload(database, good)
    assert (candidate.status, candidate.fidelity, candidate.fitness) == ("ok", 1000, 0.5)
    # a rejection at a higher fidelity does: the function diverges when trained longer
    _evaluate(database, good, seed=0, steps=10000, status="rejected")
    candidate, job_row = _reload(database, good)
    assert (candidate.status, candidate.fidelity, candidate.fitness) == ("rejected", 10000, None)
    assert job_row.best_fitness is None and job_row.candidates_done == 3


def test_first_result_wins(
    database: Database, make_job: Callable[..., Job], make_candidate: Callable[..., Candidate]
) -> None:
    candidate = make_candidate(make_job().id, "a" * 32)
    first = _evaluate(database, candidate, seed=0, steps=10, fitness=0.3)
    with database.session() as session:
        again = store.finish_evaluation(
            session=session, evaluation_id=first.id, status="ok", fitness=0.9, metrics={}
        )
        assert again.fitness == 0.3
        with pytest.raises(ValueError, match="ok, rejected, failed"):
            store.finish_evaluation(
                session=session, evaluation_id=first.id, status="pending", fitness=None, metrics={}
            )
        with pytest.raises(store.StoreError, match="evaluation 999999 does not exist"):
            store.finish_evaluation(
                session=session, evaluation_id=999_999, status="ok", fitness=1.0, metrics={}
            )
    _, job = _reload(database, candidate)
    assert job.evaluations_done == 1


def test_confirm_statistics(
    database: Database, make_job: Callable[..., Job], make_candidate: Callable[..., Candidate]
) -> None:
    candidate = make_candidate(make_job().id, "a" * 32)
    _evaluate(database, candidate, seed=0, steps=100, fitness=0.70)  # search, reused by the confirm set
    _evaluate(database, candidate, seed=1, steps=100, fitness=0.74, phase="confirm")
    fresh, _ = _reload(database, candidate)
    assert fresh.confirmed_seeds == 2 and fresh.confirmed_mean == pytest.approx(0.72)
    assert fresh.confirmed_std == pytest.approx(statistics.stdev([0.70, 0.74]))
    _evaluate(database, candidate, seed=2, steps=100, status="failed", phase="confirm")  # not a seed
    _evaluate(database, candidate, seed=3, steps=100, fitness=0.66, phase="confirm")
    _evaluate(
        database, candidate, seed=0, steps=100, fitness=0.1, phase="confirm", task="other"
    )  # another task
    fresh, job = _reload(database, candidate)
    assert fresh.confirmed_seeds == 3 and fresh.confirmed_mean == pytest.approx(0.70)
    assert fresh.confirmed_std == pytest.approx(statistics.stdev([0.70, 0.74, 0.66]))
    assert fresh.fitness == 0.70 and fresh.fidelity == 100  # search fitness unchanged by confirm runs
    assert job.evaluations_done == 5 and job.failed == 1 and job.best_fitness == 0.70


def test_one_confirm_seed_has_no_std(
    database: Database, make_job: Callable[..., Job], make_candidate: Callable[..., Candidate]
) -> None:
    candidate = make_candidate(make_job().id, "a" * 32)
    _evaluate(database, candidate, seed=5, steps=100, fitness=0.4, phase="confirm")
    fresh, _ = _reload(database, candidate)
    assert (fresh.confirmed_seeds, fresh.confirmed_mean, fresh.confirmed_std) == (1, 0.4, None)
    assert fresh.status == "pending" and fresh.fitness is None  # no search result yet


def test_listed_evaluations(
    database: Database, make_job: Callable[..., Job], make_candidate: Callable[..., Candidate]
) -> None:
    job = make_job()
    a, b = make_candidate(job.id, "a" * 32), make_candidate(job.id, "b" * 32)
    with database.session() as session:
        ids = [
            store.add_evaluation(session=session, candidate_id=c.id, task="t", seed=s, steps=10)[0].id
            for c in (a, b)
            for s in (0, 1)
        ]
    with database.session() as session:
        store.finish_evaluation(session=session, evaluation_id=ids[1], status="ok", fitness=1.0, metrics={})
    with database.session() as session:
        assert [e.id for e in store.list_evaluations(session=session, candidate_id=a.id)] == ids[:2]


def test_leaderboard_order(
    database: Database, make_job: Callable[..., Job], make_candidate: Callable[..., Candidate]
) -> None:
    job = make_job()
    c = {name: make_candidate(job.id, name * 32) for name in "abcdef"}  # numbers 1..6
    _evaluate(database, c["a"], seed=0, steps=10, fitness=0.5)
    _evaluate(database, c["b"], seed=0, steps=10, fitness=0.9)
    _evaluate(database, c["c"], seed=0, steps=10, status="rejected")  # no fitness
    _evaluate(database, c["d"], seed=0, steps=10, fitness=0.5)  # ties with a: a was proposed first
    # e and f stay pending
    with database.session() as session:
        board, total = store.leaderboard(session=session, job_id=job.id)
        ranked = [x.id for x in board]
    assert total == 6
    # unknown fitness last, in order of proposal
    assert ranked == [c["b"].id, c["a"].id, c["d"].id, c["c"].id, c["e"].id, c["f"].id]

    # confirmed candidates rank first, by confirmed mean, whatever their search fitness
    _evaluate(database, c["a"], seed=1, steps=10, fitness=0.7, phase="confirm")  # mean 0.6
    _evaluate(database, c["d"], seed=1, steps=10, fitness=0.9, phase="confirm")  # mean 0.7
    with database.session() as session:
        board, total = store.leaderboard(session=session, job_id=job.id)
        assert [x.id for x in board] == [c[n].id for n in "dabcef"]
        page, total = store.leaderboard(session=session, job_id=job.id, limit=2, offset=1)
        assert total == 6 and [x.id for x in page] == [c["a"].id, c["b"].id]


def test_population_sizes_count_the_evaluations_trained_together(
    database: Database, make_job: Callable[..., Job], make_candidate: Callable[..., Candidate]
) -> None:
    """Members of one population store its wall time divided by their number: the same job,
    task, steps, worker and float. That is how the API tells what a wall time is a share of."""
    job, other = make_job(), make_job()
    a, b, c = (make_candidate(job.id, name * 32) for name in "abc")
    elsewhere = make_candidate(other.id, "a" * 32)
    runs = [(a, 0, 0.5, "w1"), (b, 0, 0.5, "w1"), (c, 0, 0.5, "w1"),  # one population of 3
            (a, 1, 0.5, "w2"),  # alone, on another worker, by chance the same share
            (c, 1, 0.25, "w1"), (elsewhere, 0, 0.5, "w1"),  # another share; another job
            (b, 1, None, "w1")]  # rejected before training: no wall time
    with database.session() as session:
        for candidate, seed, wall, worker in runs:
            evaluation, _ = store.add_evaluation(session=session, candidate_id=candidate.id, task="t", seed=seed,
                                                 steps=10)
            store.finish_evaluation(session=session, evaluation_id=evaluation.id, status="ok" if wall else "rejected",
                                    fitness=0.5 if wall else None, metrics={}, wall_time=wall, worker=worker)
    with database.session() as session:
        sizes = store.population_sizes(session=session,
                                       evaluations=store.list_evaluations(session=session, candidate_id=a.id))
        assert sorted(sizes.values()) == [1, 3]
        b_rows = store.list_evaluations(session=session, candidate_id=b.id)
        assert store.population_sizes(session=session, evaluations=b_rows) == {b_rows[0].id: 3}
        assert store.population_sizes(session=session, evaluations=[]) == {}


def test_slow_description_fills_in_the_candidate(
    database: Database, make_job: Callable[..., Job], make_candidate: Callable[..., Candidate]
) -> None:
    candidate = make_candidate(make_job().id, "a" * 32, "x*sigmoid(x)")
    with database.session() as session:
        store.describe_candidate(session=session, candidate_id=candidate.id, canonical="x*sigmoid(x)",
                                 torch_source="def f(x):\n    return x * torch.sigmoid(x)\n",
                                 properties={"smooth": True})
        store.describe_candidate(session=session, candidate_id=999_999, canonical="", torch_source="",
                                 properties={})  # gone meanwhile: nothing to fill in
    fresh, _ = _reload(database, candidate)
    assert (fresh.canonical, fresh.properties) == ("x*sigmoid(x)", {"smooth": True})
    assert "torch.sigmoid" in fresh.torch_source and fresh.expression == "x*sigmoid(x)"


def test_evaluations_of_several_seeds_are_readable_after_the_session(
    database: Database, make_job: Callable[..., Job], make_candidate: Callable[..., Candidate]
) -> None:
    candidate = make_candidate(make_job().id, "a" * 32)
    first = _evaluate(database, candidate, seed=1, steps=10, fitness=0.5)
    with database.session() as session:
        rows = store.add_evaluations(session=session, candidate_id=candidate.id, task="t", seeds=[0, 1, 2],
                                     steps=10, phase="confirm")
    assert [(row.seed, row.status, row.phase) for row in rows] == [
        (0, "pending", "confirm"), (1, "ok", "search"), (2, "pending", "confirm")]  # seed 1's result is reused
    assert rows[1].id == first.id and rows[1].fitness == 0.5 and rows[0].attempts == 0
    assert rows[0].created_at is not None


def test_job_results_list_each_candidate_with_its_evaluations(
    database: Database, make_job: Callable[..., Job], make_candidate: Callable[..., Candidate]
) -> None:
    job, other = make_job(), make_job()
    a, b, c = (make_candidate(job.id, letter * 32) for letter in "abc")
    make_candidate(other.id, "a" * 32)
    done = _evaluate(database, b, seed=0, steps=10, fitness=0.3)
    with database.session() as session:
        pending = store.add_evaluation(session=session, candidate_id=a.id, task="t", seed=0, steps=10)[0].id
        later = store.add_evaluation(session=session, candidate_id=b.id, task="t", seed=1, steps=10)[0].id
    with database.session() as session:
        results = store.job_results(session=session, job_id=job.id)
    assert [(candidate.id, [e.id for e in evaluations]) for candidate, evaluations in results] == [
        (a.id, [pending]), (b.id, [done.id, later]), (c.id, [])]
    assert results[1][0].fitness == 0.3 and results[1][1][0].status == "ok"  # loaded whole, read after the session
    with database.session() as session:
        assert store.job_results(session=session, job_id=make_job().id) == []
