"""The runner: a job from queued to completed, with every result stored once; cancel; failures;
time limits; resume of a job whose runner vanished. In-process executor and fake evaluators
here (fast); the real-process crash tests and Ray live in test_runner_crash.py."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

import space
import store
from tests.worker import jobs
from worker import EvalOutcome, InProcessExecutor, Runner, evaluate_batch
from worker import _checkpoints as checkpoints
from worker._describe import describe
from worker._dispatch import Dispatcher


@pytest.fixture
def database(tmp_path) -> Iterator[store.Database]:
    db = store.connect(f"sqlite:///{tmp_path / 'runner.db'}")
    yield db
    db.dispose()


def runner(database: store.Database, batch=jobs.fake_batch, **options) -> Runner:
    executor = InProcessExecutor(evaluate_batch=batch, workers=options.pop("workers", 2),
                                 time_limit=options.pop("time_limit", None), batch_size=options.pop("batch_size", 8))
    return Runner(database=database, executor=executor, lease_seconds=options.pop("lease_seconds", 10.0),
                  heartbeat_seconds=options.pop("heartbeat_seconds", 0.2), **options)


def test_a_job_runs_to_completion_with_every_result_stored_once(database):
    job_id = jobs.submit(database, jobs.spec(budget={"candidates": 10}, confirm={"top_k": 3, "seeds": 2}))
    assert runner(database).run_one() == job_id

    job = jobs.job(database, job_id)
    assert job.status == store.JOB_COMPLETED and job.lease_owner is None and job.error is None
    candidates = jobs.rows(database, store.Candidate, job_id)
    evaluations = jobs.rows(database, store.Evaluation, job_id)
    assert len(candidates) == 10 == job.candidates_done
    assert len({c.fingerprint for c in candidates}) == 10
    assert all(e.status == store.OK for e in evaluations)
    # 10 search evaluations (seed 0) + 3 confirmed candidates x 1 more seed (seed 0 is reused)
    assert len(evaluations) == 13
    assert set(jobs.evaluation_events(database, job_id).values()) == {1}
    with database.session() as session:
        board, count = store.leaderboard(session=session, job_id=job_id, limit=5)
        top = [(c.confirmed_mean, c.confirmed_seeds) for c in board[:3]]
    assert count == 10
    assert all(seeds == 2 and mean is not None for mean, seeds in top)
    means = [mean for mean, _ in top]
    assert means == sorted(means, reverse=True)
    expected = (jobs.hashed_fitness(board[0].expression, 0) + jobs.hashed_fitness(board[0].expression, 1)) / 2
    assert board[0].confirmed_mean == pytest.approx(expected)
    kinds = [e.kind for e in jobs.rows(database, store.Event, job_id)]
    assert kinds[0] == "status" and kinds[-1] == "status"
    assert {"proposed", "evaluation", "candidate", "phase", "confirm"} <= set(kinds)
    confirm = job.summary.pop("confirm")  # the confirm phase's tally: 3 candidates x 2 seeds, all done
    assert confirm["evaluations"] == confirm["done"] == 6 and confirm["eta_seconds"] == 0
    assert job.summary == {"stop": "candidates", "candidates": 10}  # why the search ended, kept on the job


def test_a_search_that_runs_out_of_space_keeps_that_reason_on_the_job(database):
    data = jobs.spec(space={"unary": ["x", "sigmoid"], "binary": ["mul"]}, controller={"kind": "exhaustive"},
                     budget={"candidates": 1000}, confirm={"top_k": 1, "seeds": 1})
    job_id = jobs.submit(database, data)
    runner(database).run_one()
    job = jobs.job(database, job_id)
    assert job.status == store.JOB_COMPLETED and job.summary["stop"] == "exhausted"
    assert job.summary["candidates"] == job.candidates_done < 1000


def test_candidates_carry_their_description(database):
    job_id = jobs.submit(database, jobs.spec(budget={"candidates": 6}, confirm={"top_k": 0}))
    runner(database).run_one()
    for candidate in jobs.rows(database, store.Candidate, job_id):
        assert "class" in candidate.torch_source and candidate.latex and candidate.canonical
        assert "monotonic" in candidate.properties and len(candidate.fingerprint) == 16


def test_a_resumed_job_reuses_stored_results_and_finishes_the_budget(database):
    data = jobs.spec(budget={"candidates": 12}, confirm={"top_k": 0})
    job_id = jobs.submit(database, data)
    first = runner(database)
    stop = threading.Event()
    seen = threading.Event()

    def stop_after_some() -> None:
        jobs.wait_for(lambda: jobs.job(database, job_id).evaluations_done >= 4, what="4 evaluations")
        seen.set()
        stop.set()

    threading.Thread(target=stop_after_some, daemon=True).start()
    first.run_one(stop=stop)  # stops mid-job and releases the lease, as on SIGTERM
    assert seen.is_set()
    job = jobs.job(database, job_id)
    assert job.status == store.JOB_RUNNING and job.lease_owner is None
    done_before = {e.id for e in jobs.rows(database, store.Evaluation, job_id) if e.status == store.OK}

    runner(database).run_one()
    job = jobs.job(database, job_id)
    assert job.status == store.JOB_COMPLETED and job.claims == 2
    evaluations = jobs.rows(database, store.Evaluation, job_id)
    assert len(evaluations) == 12 and all(e.status == store.OK for e in evaluations)
    assert done_before <= {e.id for e in evaluations}
    assert set(jobs.evaluation_events(database, job_id).values()) == {1}  # none ran twice


def test_a_result_arriving_as_its_runner_gives_the_job_up_is_left_to_the_next_runner(database):
    # The race behind a job resumed with one evaluation reported twice: the outcome reached
    # the old runner's dispatcher (still active when it looked) just as it released the job.
    job_id = jobs.submit(database, jobs.spec(budget={"candidates": 1}, confirm={"top_k": 0}))
    with database.session() as session:
        store.claim_job(session=session, runner="old", lease_seconds=60)
        candidate_id = store.add_candidate(session=session, job_id=job_id, **describe(space.parse("tanh(x)"))).id

    executor = InProcessExecutor(jobs.fake_batch)  # unused: outcomes are handed in directly

    def dispatcher(name: str) -> Dispatcher:
        return Dispatcher(database=database, executor=executor, job_id=job_id, device="cpu",
                          active=lambda: True, runner=name)

    old = dispatcher("old")
    (row,) = old.rows(candidate_id, task="mnist1d-mlp", seeds=[0], steps=30, phase="search")
    with database.session() as session:
        store.release_job(session=session, job_id=job_id, runner="old")
    outcome = EvalOutcome(key=str(row.id), status=store.OK, fitness=0.5)
    old.record(outcome)  # dropped, not an error on the executor's thread
    assert [e.status for e in jobs.rows(database, store.Evaluation, job_id)] == [store.PENDING]
    assert not jobs.evaluation_events(database, job_id)

    with database.session() as session:
        store.claim_job(session=session, runner="new", lease_seconds=60)
    dispatcher("new").record(outcome)
    old.record(outcome)
    assert [e.status for e in jobs.rows(database, store.Evaluation, job_id)] == [store.OK]
    assert jobs.evaluation_events(database, job_id) == {row.id: 1}
    executor.shutdown()


def test_cancel_stops_a_running_job_within_seconds(database, monkeypatch):
    monkeypatch.setenv("FAKE_EVAL_SECONDS", "0.5")
    job_id = jobs.submit(database, jobs.spec(budget={"candidates": 500}))
    thread = threading.Thread(target=runner(database).run_one, daemon=True)
    thread.start()
    jobs.wait_for(lambda: jobs.job(database, job_id).evaluations_done >= 2, what="2 evaluations")
    with database.session() as session:
        store.request_cancel(session=session, job_id=job_id)
    thread.join(timeout=5)
    assert not thread.is_alive()
    job = jobs.job(database, job_id)
    assert job.status == store.JOB_CANCELLED and job.candidates_done < 500


def test_elapsed_stays_live_while_the_first_population_trains(database, monkeypatch):
    """The heartbeat saves the job's elapsed time: it used to stay 0 until a first result came."""
    monkeypatch.setenv("FAKE_EVAL_SECONDS", "3")
    job_id = jobs.submit(database, jobs.spec(budget={"candidates": 4}, confirm={"top_k": 0}))
    thread = threading.Thread(target=runner(database, batch_size=4, workers=1).run_one, daemon=True)
    thread.start()
    jobs.wait_for(lambda: jobs.job(database, job_id).elapsed_seconds >= 1.0, what="elapsed time saved", timeout=10)
    assert jobs.job(database, job_id).evaluations_done == 0  # still the first population
    thread.join(timeout=30)
    assert jobs.job(database, job_id).status == store.JOB_COMPLETED


def test_a_hanging_candidate_hits_the_time_limit_and_the_job_goes_on(database):
    data = jobs.spec(budget={"candidates": 8}, confirm={"top_k": 0})
    job_id = jobs.submit(database, data)
    runner(database, jobs.hang_on_sin, time_limit=1.0, batch_size=1, workers=4).run_one()
    assert jobs.job(database, job_id).status == store.JOB_COMPLETED
    evaluations = jobs.rows(database, store.Evaluation, job_id)
    candidates = {c.id: c.expression for c in jobs.rows(database, store.Candidate, job_id)}
    hung = [e for e in evaluations if "sin" in candidates[e.candidate_id]]
    assert hung, "the sampled space should include a sin candidate"
    assert all(e.status == store.FAILED and e.reason == "time_limit" for e in hung)
    assert all(e.status == store.OK for e in evaluations if e not in hung)


def test_a_job_that_cannot_run_fails_with_its_reason_and_the_runner_goes_on(database):
    broken = jobs.submit(database, {**jobs.spec(), "controller": {"kind": "no-such-controller", "params": {}}})
    fine = jobs.submit(database, jobs.spec(budget={"candidates": 3}, confirm={"top_k": 0}))
    assert runner(database).run(stop=threading.Event(), max_jobs=2) == 2
    assert jobs.job(database, broken).status == store.JOB_FAILED
    assert "no-such-controller" in jobs.job(database, broken).error
    assert jobs.job(database, fine).status == store.JOB_COMPLETED


@pytest.mark.usefixtures("one_thread")
def test_real_training_end_to_end(database):
    """The real evaluator: tiny mnist1d-mlp trainings, rejections recorded with reasons."""
    data = jobs.spec(budget={"candidates": 6}, confirm={"top_k": 1, "seeds": 2}, task={
        "name": "mnist1d-mlp", "seeds": 1, "steps": 40})
    job_id = jobs.submit(database, data)
    runner(database, evaluate_batch, batch_size=16, workers=1).run_one()
    job = jobs.job(database, job_id)
    assert job.status == store.JOB_COMPLETED
    evaluations = jobs.rows(database, store.Evaluation, job_id)
    assert all(e.status in (store.OK, store.REJECTED) for e in evaluations)
    assert all(e.reason for e in evaluations if e.status == store.REJECTED)
    ok = [e for e in evaluations if e.status == store.OK]
    assert ok and all(0.0 <= e.fitness <= 1.0 and e.metrics["val_accuracy"] == e.fitness for e in ok)


def test_asha_promotes_the_best_candidates_to_longer_training(database):
    data = jobs.spec(budget={"candidates": 12, "in_flight": 4}, fidelity={"rungs": [10, 30], "eta": 3},
                     task={"name": "mnist1d-mlp", "seeds": 1, "steps": 30}, confirm={"top_k": 0})
    job_id = jobs.submit(database, data)
    recorded = jobs.Recording()
    runner(database, recorded).run_one()
    requests = recorded.requests
    # every rung is a stretch of the last rung's schedule; a promotion names the rung below
    assert {(r.steps, r.horizon, r.resume_from) for r in requests} == {(10, 30, None), (30, 30, 10)}
    assert {r.precision for r in requests} == {"fp32"}
    assert jobs.job(database, job_id).status == store.JOB_COMPLETED
    evaluations = jobs.rows(database, store.Evaluation, job_id)
    short = [e for e in evaluations if e.steps == 10]
    long = [e for e in evaluations if e.steps == 30]
    assert len(short) == 12 and 1 <= len(long) < 12
    candidates = {c.id: c for c in jobs.rows(database, store.Candidate, job_id)}
    promoted = {e.candidate_id for e in long}
    assert max(short, key=lambda e: e.fitness).candidate_id in promoted  # ASHA always promotes the best
    assert all(candidates[i].fidelity == 30 for i in promoted)
    assert all(c.fidelity == 10 for i, c in candidates.items() if i not in promoted)


@pytest.mark.usefixtures("one_thread")
def test_asha_with_real_training_continues_promoted_candidates_from_their_checkpoints(database, tmp_path,
                                                                                     monkeypatch):
    monkeypatch.setenv(checkpoints.DIR_ENV, str(tmp_path / "checkpoints"))
    data = jobs.spec(budget={"candidates": 6, "in_flight": 6}, fidelity={"rungs": [20, 60], "eta": 3},
                     task={"name": "mnist1d-mlp", "seeds": 1}, confirm={"top_k": 0})
    job_id = jobs.submit(database, data)
    runner(database, evaluate_batch, batch_size=16, workers=1).run_one()
    assert jobs.job(database, job_id).status == store.JOB_COMPLETED
    long = [e for e in jobs.rows(database, store.Evaluation, job_id) if e.steps == 60 and e.status == store.OK]
    assert long and all(e.metrics["steps_trained"] == 40 for e in long)  # 20 + 40, not 20 + 60


def test_a_bf16_job_trains_every_evaluation_under_autocast(database):
    data = jobs.spec(budget={"candidates": 4}, confirm={"top_k": 1, "seeds": 2},
                     task={"name": "mnist1d-mlp", "seeds": 1, "steps": 30, "precision": "bf16"})
    job_id = jobs.submit(database, data)
    recorded = jobs.Recording()
    runner(database, recorded).run_one()
    requests = recorded.requests
    assert jobs.job(database, job_id).status == store.JOB_COMPLETED
    assert len(requests) == 5 and {r.precision for r in requests} == {"bf16"}  # search and confirm


def test_a_jobs_rejection_policy_reaches_every_evaluation(database):
    off = {"signal_propagation": False, "loss_window": None}
    job_id = jobs.submit(database, jobs.spec(budget={"candidates": 3}, confirm={"top_k": 1, "seeds": 2},
                                             rejection=off))
    default_id = jobs.submit(database, jobs.spec(budget={"candidates": 2}, confirm={"top_k": 0}))
    recorded = jobs.Recording()
    runner(database, recorded).run(stop=threading.Event(), max_jobs=2)
    assert jobs.job(database, job_id).status == jobs.job(database, default_id).status == store.JOB_COMPLETED
    policies = [r.rejection for r in recorded.requests]
    # the first job's search and confirm (its seed 0 row is reused), the second's search
    assert len(policies) == 3 + 1 + 2
    first = [p for p in policies if p is not None and not p["signal_propagation"]]
    assert len(first) == 4 and all(p["loss_window"] is None and p["probe"] for p in first)
    assert sum(1 for p in policies if p is not None and p["signal_propagation"]) == 2  # the default: on


def test_the_confirm_phase_marks_a_rediscovered_function(database):
    data = jobs.spec(space={"unary": ["x", "sigmoid"], "binary": ["mul"]}, controller={"kind": "exhaustive"},
                     budget={"candidates": 50}, confirm={"top_k": 50, "seeds": 2})
    job_id = jobs.submit(database, data)
    runner(database).run_one()
    known = {c.expression: c.known_as for c in jobs.rows(database, store.Candidate, job_id)}
    assert known["x * sigmoid(x)"] == "SiLU"
    assert known["sigmoid(x) * sigmoid(x)"] is None
