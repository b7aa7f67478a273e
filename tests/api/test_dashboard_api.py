"""The dashboard's API operations: candidate curves, space counts and job insights."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

import store
from space import Space, evaluate, parse
from tests.api.conftest import StoredJob, Tokens, append_events, finish
from tests.api.fuzz import statuses_of_fuzzed_calls

OPERATIONS = [("GET", "/api/v1/candidates/{candidate_id}/curve"), ("POST", "/api/v1/spaces/count"),
              ("GET", "/api/v1/jobs/{job_id}/insights")]


# -- curves

def test_curve_samples_f_and_its_derivative(client: TestClient, tokens: Tokens, stored_job: StoredJob) -> None:
    _, ids = stored_job("alice", expressions=("max(x, 0)", "x * sigmoid(beta * x)"))
    relu = client.get(f"/api/v1/candidates/{ids[0]}/curve", headers=tokens.alice).json()
    x = np.array(relu["x"])
    assert len(x) == 201 and x[0] == -5 and x[-1] == 5 and relu["candidate_id"] == ids[0]
    assert relu["f"] == pytest.approx(np.maximum(x, 0).tolist())
    away = np.abs(x) > 0.01  # the central difference straddles the kink at 0
    assert np.array(relu["df"])[away] == pytest.approx((x[away] > 0).astype(float), abs=1e-6)
    assert relu["params"] == {}
    swish = client.get(f"/api/v1/candidates/{ids[1]}/curve", params={"points": 11, "low": -1, "high": 1},
                       headers=tokens.alice).json()
    assert swish["params"] == {"beta": 1.0}
    expected = evaluate(parse("x * sigmoid(beta * x)"), np.linspace(-1, 1, 11), {"beta": 1.0})
    assert swish["f"] == pytest.approx(expected.tolist())


def test_curve_sends_non_finite_values_as_null(client: TestClient, tokens: Tokens, stored_job: StoredJob) -> None:
    _, ids = stored_job("alice", expressions=("log(abs(x))",))
    curve = client.get(f"/api/v1/candidates/{ids[0]}/curve", params={"points": 3, "low": -1, "high": 1},
                       headers=tokens.alice).json()
    assert curve["x"] == [-1, 0, 1] and curve["f"][1] is None and curve["f"][0] == pytest.approx(0.0)


@pytest.mark.parametrize(("params", "loc"), [({"points": 1}, ["query", "points"]), ({"points": 5000}, ["query", "points"]),
                                             ({"low": 1, "high": 0}, ["query", "high"]),
                                             ({"low": "nan"}, ["query", "low"])])
def test_curve_rejects_bad_ranges(client: TestClient, tokens: Tokens, stored_job: StoredJob, params: dict[str, Any],
                                  loc: list[str]) -> None:
    _, ids = stored_job("alice", expressions=("x",))
    response = client.get(f"/api/v1/candidates/{ids[0]}/curve", params=params, headers=tokens.alice)
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == loc


def test_curves_are_private(client: TestClient, tokens: Tokens, stored_job: StoredJob) -> None:
    _, ids = stored_job("alice", expressions=("x",))
    assert client.get(f"/api/v1/candidates/{ids[0]}/curve", headers=tokens.bob).status_code == 404
    assert client.get(f"/api/v1/candidates/{ids[0]}/curve").status_code == 401
    assert client.get(f"/api/v1/candidates/{ids[0]}/curve", headers=tokens.admin).status_code == 200


# -- space counts

@pytest.mark.parametrize("space", [
    {"unary": ["x", "sigmoid", "tanh"], "binary": ["mul", "add"]},
    {"unary": ["x", "sin"], "binary": ["add", "max"], "units": 2, "min_units": 1},
    {"unary": ["x", "sin"], "binary": ["add"], "form": "tree", "max_size": 7, "max_depth": 3},
    {},
])
def test_count_is_the_space_size(client: TestClient, tokens: Tokens, space: dict[str, Any]) -> None:
    response = client.post("/api/v1/spaces/count", json=space, headers=tokens.alice)
    assert response.status_code == 200 and response.json() == {"count": Space.from_json(space).count()}


def test_count_of_the_documented_example_is_18(client: TestClient, tokens: Tokens) -> None:
    space = {"unary": ["x", "sigmoid", "tanh"], "binary": ["mul", "add"]}
    assert client.post("/api/v1/spaces/count", json=space, headers=tokens.alice).json() == {"count": 18}


@pytest.mark.parametrize(("space", "loc", "words"), [
    ({"unary": ["x", "nope"]}, ["body", "unary"], "unknown unary operator 'nope'"),
    ({"binary": []}, ["body", "binary"], "at least one"),
    ({"units": 4}, ["body", "units"], "between 1 and 3"),
    ({"colour": "red"}, ["body", "colour"], "unknown field"),
    ({"unary": [["x"]]}, ["body"], "invalid space"),
    ({"unary": ["x\x00"]}, ["body", "unary", 0], "NUL"),
    ([1, 2], ["body"], "dictionary"),
])
def test_count_names_the_invalid_field(client: TestClient, tokens: Tokens, space: Any, loc: list[Any], words: str
                                       ) -> None:
    response = client.post("/api/v1/spaces/count", json=space, headers=tokens.alice)
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert error["loc"] == loc and words in error["msg"]


def test_count_needs_a_token(client: TestClient) -> None:
    assert client.post("/api/v1/spaces/count", json={}).status_code == 401


# -- insights

def reject(database: store.Database, candidate_id: int, status: str, reason: str, seed: int = 1) -> None:
    with database.session() as session:
        evaluation, _ = store.add_evaluation(session=session, candidate_id=candidate_id, task="mnist1d-mlp",
                                             seed=seed, steps=20)
        store.finish_evaluation(session=session, evaluation_id=evaluation.id, status=status, fitness=None,
                                metrics={}, reason=reason, wall_time=0.1, worker="test")


def test_insights_sum_up_a_job(client: TestClient, tokens: Tokens, stored_job: StoredJob,
                               database: store.Database) -> None:
    job_id, ids = stored_job("alice")  # fitness 0.9, 0.8, ... in this order
    reject(database, ids[1], "rejected", "unstable")
    reject(database, ids[2], "rejected", "unstable")
    reject(database, ids[3], "failed", "timeout")
    last = append_events(database, job_id, 3)[-1]
    insights = client.get(f"/api/v1/jobs/{job_id}/insights", params={"top": 2}, headers=tokens.alice).json()
    assert insights["job_id"] == job_id and insights["last_event_id"] == last and insights["top"] == 2
    # the top two: x * sigmoid(x) and max(x, 0), which parses as relu(x)
    assert insights["operators"] == [{"name": "mul", "arity": 2, "candidates": 1},
                                     {"name": "relu", "arity": 1, "candidates": 1},
                                     {"name": "sigmoid", "arity": 1, "candidates": 1}]
    assert insights["evaluations"] == [{"candidate_id": ids[0], "finished": 1, "pending": 0},
                                       {"candidate_id": ids[1], "finished": 2, "pending": 0}]
    assert insights["reasons"] == [{"status": "rejected", "reason": "unstable", "count": 2},
                                   {"status": "failed", "reason": "timeout", "count": 1}]
    # the best never improves after the first evaluation: that point and the last one
    assert insights["trace"] == [{"evaluations": 1, "best": 0.9}, {"evaluations": 8, "best": 0.9}]


def test_insights_of_an_empty_job(client: TestClient, tokens: Tokens, stored_job: StoredJob) -> None:
    job_id, _ = stored_job("alice", expressions=(), evaluate=False)
    insights = client.get(f"/api/v1/jobs/{job_id}/insights", headers=tokens.alice).json()
    assert insights == {"job_id": job_id, "last_event_id": 0, "top": 0, "operators": [], "evaluations": [],
                        "reasons": [], "trace": []}


def test_insights_trace_follows_improvements(client: TestClient, tokens: Tokens, stored_job: StoredJob,
                                             database: store.Database) -> None:
    job_id, ids = stored_job("alice", expressions=("x", "sin(x)", "max(x, 0)"), evaluate=False)
    for candidate_id, fitness in zip(ids, (0.2, 0.5, 0.4), strict=True):
        with database.session() as session:
            evaluation, _ = store.add_evaluation(session=session, candidate_id=candidate_id, task="t", seed=0, steps=5)
            store.finish_evaluation(session=session, evaluation_id=evaluation.id, status="ok", fitness=fitness,
                                    metrics={}, wall_time=0.1, worker="test")
    trace = client.get(f"/api/v1/jobs/{job_id}/insights", headers=tokens.alice).json()["trace"]
    assert trace == [{"evaluations": 1, "best": 0.2}, {"evaluations": 2, "best": 0.5}, {"evaluations": 3, "best": 0.5}]


def test_insights_are_private(client: TestClient, tokens: Tokens, stored_job: StoredJob) -> None:
    job_id, _ = stored_job("alice", expressions=("x",))
    assert client.get(f"/api/v1/jobs/{job_id}/insights", headers=tokens.bob).status_code == 404
    assert client.get(f"/api/v1/jobs/{job_id}/insights").status_code == 401
    assert client.get(f"/api/v1/jobs/{job_id}/insights", headers=tokens.admin).status_code == 200
    assert client.get("/api/v1/jobs/999999/insights", headers=tokens.alice).status_code == 404


# -- no input is a server error

@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_no_input_is_a_server_error(app: FastAPI, tokens: Tokens, stored_job: StoredJob, database: store.Database,
                                    method: str, path: str) -> None:
    job_id, _ = stored_job("alice")
    finish(database, job_id)
    statuses = statuses_of_fuzzed_calls(app, method, path, tokens.alice, examples=40)
    assert any(status < 300 for status in statuses), statuses
