"""Baselines in the population, multi-task fitness with hurdles, and the transfer verdict:
the scoring arithmetic, then whole jobs on the in-process runner with a fake trainer whose
numbers are known."""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator, Sequence

import pytest

import store
from tests.worker import jobs
from worker import EvalOutcome, EvalRequest, InProcessExecutor, Runner
from worker._scoring import Seeds, aggregate, normalised, reference, task_verdict, verdict

# no relu, no sigmoid: the controller cannot propose a baseline itself
SPACE = {"unary": ["x", "neg", "sin", "tanh", "abs"], "binary": ["add", "mul", "max"]}
BASELINE_FITNESS = {"relu(x)": 0.50, "x * sigmoid(x)": 0.54}


def test_scores_are_relative_to_the_baselines_mean():
    assert normalised(0.55, 0.50) == pytest.approx(0.1) and normalised(-1.8, -2.0) == pytest.approx(0.1)
    assert normalised(0.3, None) == 0.3  # no finite baseline: the raw fitness
    assert normalised(1e-3, 0.0) == pytest.approx(1e3)  # a zero reference does not divide by zero
    assert reference([0.5, None, float("nan"), 0.7]) == pytest.approx(0.6) and reference([None]) is None
    assert aggregate([(0.1, 1.0), (-0.2, 3.0)], "mean") == pytest.approx(-0.125)
    assert aggregate([(0.1, 1.0), (-0.2, 3.0)], "min") == -0.2


def test_the_verdict_names_the_task_and_why():
    relu, silu = Seeds((0.80, 0.82)), Seeds((0.81, 0.83))
    assert task_verdict(Seeds((0.79, 0.84)), {"ReLU": relu, "SiLU": silu}) is None  # within the seeds' noise
    assert task_verdict(Seeds((0.60, 0.61)), {"ReLU": relu, "SiLU": silu}) == "worse than ReLU (0.605 vs 0.81)"
    assert task_verdict(Seeds((0.9, None), "nonfinite_loss"), {"ReLU": relu}) == \
        "1 of 2 seeds did not train (nonfinite_loss)"
    result = verdict({"a": (Seeds((0.9, 0.9)), {"ReLU": relu}), "b": (Seeds((None,), "grad_explosion"), {"ReLU": relu})})
    assert result["transfers"] is False and result["summary"] == "fails on b: 1 of 1 seeds did not train (grad_explosion)"
    assert verdict({"a": (Seeds((0.9,)), {"ReLU": relu})})["summary"] == "transfers"


def fitness(request: EvalRequest) -> float | None:
    """Known numbers: the baselines fixed, a candidate with sin poor on MNIST-1D (it misses the
    hurdle), one with abs diverging on digits, the rest from a hash."""
    if request.expression in BASELINE_FITNESS:
        return BASELINE_FITNESS[request.expression] + (0.01 if request.task == "digits-cnn" else 0.0)
    if "sin" in request.expression and request.task == "mnist1d-mlp":
        return 0.05
    if "abs" in request.expression and request.task == "digits-cnn":
        return None
    return 0.3 + 0.4 * jobs.hashed_fitness(request.expression + request.task, request.seed)


class Trainer:
    """Records every batch of requests; answers with :func:`fitness`."""

    def __init__(self) -> None:
        self.batches: list[list[EvalRequest]] = []
        self.lock = threading.Lock()

    def __call__(self, requests: Sequence[EvalRequest]) -> list[EvalOutcome]:
        with self.lock:
            self.batches.append(list(requests))
        out = []
        for r in requests:
            value = fitness(r)
            out.append(EvalOutcome(key=r.key, status="ok" if value is not None else "rejected", fitness=value,
                                   reason=None if value is not None else "nonfinite_loss", steps=r.steps or 0))
        return out


@pytest.fixture
def database(tmp_path) -> Iterator[store.Database]:
    db = store.connect(f"sqlite:///{tmp_path / 'scoring.db'}")
    yield db
    db.dispose()


def run(database: store.Database, job_id: int, trainer: Trainer, stop: threading.Event | None = None) -> None:
    executor = InProcessExecutor(evaluate_batch=trainer, workers=1, batch_size=16, linger=0.2)
    Runner(database=database, executor=executor, lease_seconds=10.0, heartbeat_seconds=0.2).run_one(stop=stop)


def by_candidate(database: store.Database, job_id: int) -> dict[int, list[store.Evaluation]]:
    out: dict[int, list[store.Evaluation]] = {}
    for row in jobs.rows(database, store.Evaluation, job_id):
        out.setdefault(row.candidate_id, []).append(row)
    return out


def test_baselines_train_beside_the_first_candidates_and_are_confirmed_and_compared(database):
    data = jobs.spec(space=SPACE, baselines=["relu(x)", "x*sigmoid(x)"], budget={"candidates": 6},
                     confirm={"top_k": 2, "seeds": 2})
    job_id = jobs.submit(database, data)
    trainer = Trainer()
    run(database, job_id, trainer)

    job = jobs.job(database, job_id)
    assert job.status == store.JOB_COMPLETED, job.error
    named = job.summary["baselines"]
    assert [b["expression"] for b in named] == ["relu(x)", "x * sigmoid(x)"] and named[0]["name"] == "ReLU"
    baseline_ids = {b["candidate_id"] for b in named}
    candidates = jobs.rows(database, store.Candidate, job_id)
    assert len([c for c in candidates if c.id not in baseline_ids]) == 6  # the budget is the controller's
    # the baselines were in the first population, with candidates
    first = [r.expression for r in trainer.batches[0]]
    assert {"relu(x)", "x * sigmoid(x)"} <= set(first) and len(set(first)) > 2
    evaluations = by_candidate(database, job_id)
    for baseline in baseline_ids:  # one search seed + one more confirm seed, each trained once
        assert sorted((e.phase, e.seed) for e in evaluations[baseline]) == [("confirm", 1), ("search", 0)]
    assert set(jobs.evaluation_events(database, job_id).values()) == {1}
    rows = {c.id: c for c in candidates}
    assert all(rows[b].confirmed_seeds == 2 and "verdict" not in rows[b].properties for b in baseline_ids)
    top = sorted((c for c in candidates if c.id not in baseline_ids and c.confirmed_seeds), key=lambda c: c.number)
    assert len(top) == 2
    for candidate in top:
        verdict_of = candidate.properties["verdict"]
        table = verdict_of["tasks"]["mnist1d-mlp"]
        assert set(table["baselines"]) == {"ReLU", "SiLU"} and table["baselines"]["ReLU"]["mean"] == pytest.approx(0.5)
        assert table["mean"] == pytest.approx(candidate.confirmed_mean)
        worse = table["mean"] < 0.5 - 1e-9 and (table["std"] or 0) < 0.05
        assert verdict_of["transfers"] is (table["fails"] is None)
        if worse:
            assert verdict_of["summary"].startswith("fails on mnist1d-mlp: worse than ReLU")


MULTI = {"tasks": [{"name": "mnist1d-mlp", "steps": 30, "hurdle": -0.5},
                   {"name": "digits-cnn", "steps": 40, "weight": 3}],
         "baselines": ["relu(x)", "x*sigmoid(x)"], "aggregate": "mean"}


def multi_spec(**changes: object) -> dict[str, object]:
    return jobs.spec(**{"space": SPACE, "budget": {"candidates": 10}, "confirm": {"top_k": 2, "seeds": 2}, **MULTI,
                        **changes})


def expected_score(rows: dict[str, float], baselines: dict[str, list[float]], how: str = "mean") -> float:
    scores = [(normalised(rows[t], sum(baselines[t]) / len(baselines[t])), w)
              for t, w in (("mnist1d-mlp", 1.0), ("digits-cnn", 3.0))]
    return aggregate(scores, how)


def test_a_multi_task_job_scores_against_the_baselines_with_a_hurdle_in_front(database):
    job_id = jobs.submit(database, multi_spec())
    run(database, job_id, Trainer())
    job = jobs.job(database, job_id)
    assert job.status == store.JOB_COMPLETED, job.error
    baseline_ids = {b["candidate_id"] for b in job.summary["baselines"]}
    evaluations = by_candidate(database, job_id)
    parts = {cid: {(e.task, e.seed, e.phase): e for e in rows if e.task != store.COMBINED}
             for cid, rows in evaluations.items()}
    reference = {t: [parts[b][(t, 0, store.PHASE_PART)].fitness for b in baseline_ids]
                 for t in ("mnist1d-mlp", "digits-cnn")}
    assert {e.steps for rows in evaluations.values() for e in rows if e.task == "digits-cnn"} == {40}
    seen = {"ok": 0, "hurdle": 0, "diverged": 0}
    for candidate in jobs.rows(database, store.Candidate, job_id):
        combined = [e for e in evaluations[candidate.id] if e.task == store.COMBINED and e.phase == store.PHASE_SEARCH]
        assert len(combined) == 1 and combined[0].steps == 30 and combined[0].seed == -1
        if "sin" in candidate.expression:
            seen["hurdle"] += 1
            assert candidate.status == store.REJECTED and combined[0].reason.startswith("hurdle: mnist1d-mlp scored")
            assert not any(t == "digits-cnn" for t, _, _ in parts[candidate.id])  # never trained there
        elif "abs" in candidate.expression:
            seen["diverged"] += 1
            assert candidate.status == store.REJECTED and combined[0].reason == "digits-cnn: nonfinite_loss"
        else:
            seen["ok"] += 1
            values = {t: parts[candidate.id][(t, 0, store.PHASE_PART)].fitness for t in ("mnist1d-mlp", "digits-cnn")}
            assert candidate.fitness == pytest.approx(expected_score(values, reference))
    assert seen["ok"] >= 3 and seen["hurdle"] >= 1, seen
    # a combined row is not a training: the counters count the parts
    trained = [e for rows in evaluations.values() for e in rows if e.task != store.COMBINED]
    assert job.evaluations_done == len(trained)
    assert set(jobs.evaluation_events(database, job_id).values()) == {1}

    # confirm: top-2 and the baselines, 2 seeds, a combined score per seed
    confirmed = [c for c in jobs.rows(database, store.Candidate, job_id)
                 if c.confirmed_seeds and c.id not in baseline_ids]
    assert len(confirmed) == 2
    for candidate in confirmed:
        rows = [e for e in evaluations[candidate.id] if e.task == store.COMBINED and e.phase == store.PHASE_CONFIRM]
        assert sorted(e.seed for e in rows) == [0, 1]
        assert candidate.confirmed_mean == pytest.approx(sum(e.fitness for e in rows) / 2)
        assert set(candidate.properties["verdict"]["tasks"]) == {"mnist1d-mlp", "digits-cnn"}


def test_a_multi_task_job_resumes_without_training_anything_twice(database):
    job_id = jobs.submit(database, multi_spec(budget={"candidates": 12}, confirm={"top_k": 0}))
    stop = threading.Event()

    def stop_after_some() -> None:
        jobs.wait_for(lambda: jobs.job(database, job_id).evaluations_done >= 6, what="6 evaluations")
        stop.set()

    threading.Thread(target=stop_after_some, daemon=True).start()
    run(database, job_id, Trainer(), stop)
    assert jobs.job(database, job_id).status == store.JOB_RUNNING
    run(database, job_id, Trainer())
    job = jobs.job(database, job_id)
    assert job.status == store.JOB_COMPLETED and job.claims == 2, job.error
    baseline_ids = {b["candidate_id"] for b in job.summary["baselines"]}
    candidates = [c for c in jobs.rows(database, store.Candidate, job_id) if c.id not in baseline_ids]
    assert len(candidates) == 12 and all(c.status != store.PENDING for c in candidates)
    assert set(jobs.evaluation_events(database, job_id).values()) == {1}  # none ran twice
    assert all(math.isfinite(c.fitness) for c in candidates if c.status == store.OK)


def test_rungs_scale_per_task_and_baselines_follow_each_rung(database):
    trainer = Trainer()
    job_id = jobs.submit(database, multi_spec(fidelity={"rungs": [10, 30], "eta": 2}, confirm={"top_k": 0},
                                              budget={"candidates": 6}))
    run(database, job_id, trainer)
    assert jobs.job(database, job_id).status == store.JOB_COMPLETED
    asked = {(r.task, r.steps, r.horizon) for batch in trainer.batches for r in batch}
    assert asked == {("mnist1d-mlp", 10, 30), ("mnist1d-mlp", 30, 30), ("digits-cnn", 13, 40),
                     ("digits-cnn", 40, 40)}
    baseline_steps = {(r.task, r.steps) for batch in trainer.batches for r in batch if r.expression == "relu(x)"}
    assert baseline_steps == {("mnist1d-mlp", 10), ("mnist1d-mlp", 30), ("digits-cnn", 13), ("digits-cnn", 40)}
