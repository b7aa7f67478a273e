"""Baselines and transfer verdicts through the API: a job names its baselines, its progress
counts the search's candidates only, each leaderboard row says how it compares with each
baseline and whether it transfers, and a candidate gives its verdict task by task."""

from __future__ import annotations

import math
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, update

import store
from tests.api.conftest import SPEC, StoredJob, Tokens, add_candidate
from worker._scoring import Seeds, verdict

JOBS = "/api/v1/jobs"
DEEP = "mnist1d-deep-mlp"
# expression -> search fitness, in order of proposal; the first two are the baselines
FUNCTIONS = {"relu(x)": 0.78, "x*sigmoid(x)": 0.79, "x * tanh(softplus(x))": 0.80, "sin(x) + x": 0.70,
             "x + x^2": 0.85}
NAMES = {"relu(x)": "ReLU", "x*sigmoid(x)": "SiLU"}
# confirmed (mean, std, seeds) of the top 2 and the baselines
CONFIRMED = {"x + x^2": (0.86, 0.01, 3), "x * tanh(softplus(x))": (0.81, 0.01, 3), "relu(x)": (0.78, 0.02, 3),
             "x*sigmoid(x)": (0.79, 0.01, 3)}


def verdicts() -> dict[str, dict[str, object]]:
    """The runner's verdicts (worker._scoring) of the confirmed candidates: x + x² diverges in the
    deep network, Mish transfers."""
    relu, silu = Seeds((0.77, 0.78, 0.79)), Seeds((0.78, 0.79, 0.80))
    deep = {"ReLU": Seeds((0.71, 0.72, 0.73)), "SiLU": Seeds((0.62, 0.63, 0.61))}
    return {
        "x + x^2": verdict({"mnist1d-mlp": (Seeds((0.85, 0.86, 0.87)), {"ReLU": relu, "SiLU": silu}),
                            DEEP: (Seeds((None, None, 0.5), "nonfinite_loss"), deep)}),
        "x * tanh(softplus(x))": verdict({"mnist1d-mlp": (Seeds((0.80, 0.81, 0.82)), {"ReLU": relu, "SiLU": silu}),
                                          DEEP: (Seeds((0.70, 0.72, 0.74)), deep)}),
    }


def store_job(database: store.Database, *, owner: str = "alice", confirm: bool = True,
              budget: int = 10, stop: str | None = None) -> dict[str, int]:
    """A job as the runner leaves it: the baselines stored first and named in the summary, every
    function with a search fitness, and (``confirm``) the top 2 and the baselines confirmed, the
    top 2 with a verdict. ``stop``: why the search stopped (the job is then finished). Returns
    the candidate ids by expression, and the job's as ``"job"``."""
    spec = {**SPEC, "name": "baselines", "budget": {"candidates": budget}, "confirm": {"top_k": 2, "seeds": 3}}
    with database.session() as session:
        job = store.create_job(session=session, name="baselines", owner=owner, spec=spec)
        ids = {text: add_candidate(session, job.id, text).id for text in FUNCTIONS}
        listed = [{"name": NAMES[text], "expression": text, "candidate_id": ids[text]} for text in NAMES]
        summary: dict[str, Any] = {"baselines": listed, **({"stop": stop} if stop else {})}
        store.save_progress(session=session, job_id=job.id, summary=summary)
    for text, fitness in FUNCTIONS.items():
        with database.session() as session:
            evaluation, _ = store.add_evaluation(session=session, candidate_id=ids[text], task="mnist1d-mlp",
                                                 seed=0, steps=20)
            store.finish_evaluation(session=session, evaluation_id=evaluation.id, status="ok", fitness=fitness,
                                    metrics={}, wall_time=0.5, worker="test")
    if confirm:
        found = verdicts()
        with database.session() as session:
            for text, confirmed in CONFIRMED.items():
                store.settle_candidate(session=session, candidate_id=ids[text], known=None, confirmed=confirmed,
                                       verdict=found.get(text))
    if stop:
        with database.session() as session:
            session.execute(update(store.Job).where(store.Job.id == job.id).values(
                status=store.JOB_COMPLETED, phase="confirm"))
    return {**ids, "job": job.id}


def get(client: TestClient, tokens: Tokens, path: str, **params: Any) -> Any:
    response = client.get(path, params=params, headers=tokens.alice)
    assert response.status_code == 200, response.text
    return response.json()


def test_a_job_names_its_baselines_and_counts_only_its_candidates(client: TestClient, tokens: Tokens,
                                                                  database: store.Database) -> None:
    ids = store_job(database)
    job = get(client, tokens, f"{JOBS}/{ids['job']}")
    assert job["baselines"] == [{"name": "ReLU", "expression": "relu(x)", "candidate_id": ids["relu(x)"]},
                                {"name": "SiLU", "expression": "x*sigmoid(x)", "candidate_id": ids["x*sigmoid(x)"]}]
    # five functions finished, two of them the baselines: 3 of the budget's 10
    assert job["progress"]["candidates_done"] == 3 and job["progress"]["fraction"] == pytest.approx(0.3)
    listed = get(client, tokens, JOBS)["data"]
    assert [(j["id"], j["progress"]["candidates_done"], len(j["baselines"])) for j in listed] == [(ids["job"], 3, 2)]


def test_a_search_the_budget_stopped_reads_the_whole_budget(client: TestClient, tokens: Tokens,
                                                            database: store.Database) -> None:
    # 4 proposals (the budget), one of them ReLU, which the job stores once, as its baseline
    ids = store_job(database, budget=4, stop="candidates")
    progress = get(client, tokens, f"{JOBS}/{ids['job']}")["progress"]
    assert (progress["candidates_done"], progress["candidates_budget"], progress["fraction"]) == (4, 4, 1.0)


def test_a_job_without_baselines_shows_none(client: TestClient, tokens: Tokens, stored_job: StoredJob) -> None:
    job_id, ids = stored_job("alice")
    job = get(client, tokens, f"{JOBS}/{job_id}")
    assert job["baselines"] == [] and job["progress"]["candidates_done"] == 5
    rows = get(client, tokens, f"{JOBS}/{job_id}/leaderboard")["data"]
    assert all(r["baseline"] is None and r["vs_baselines"] == [] and r["verdict"] is None for r in rows)
    candidate = get(client, tokens, f"/api/v1/candidates/{ids[0]}")
    assert candidate["baseline"] is None and candidate["verdict"] is None


def by_function(rows: list[dict[str, Any]], ids: dict[str, int]) -> dict[str, dict[str, Any]]:
    """Rows by the text the function was stored from (its expression is printed anew)."""
    text = {candidate_id: key for key, candidate_id in ids.items() if key != "job"}
    return {text[row["candidate_id"]]: row for row in rows}


def test_leaderboard_rows_compare_with_each_baseline(client: TestClient, tokens: Tokens,
                                                     database: store.Database) -> None:
    ids = store_job(database)
    rows = get(client, tokens, f"{JOBS}/{ids['job']}/leaderboard")["data"]
    assert [r["candidate_id"] for r in rows] == [ids[t] for t in ("x + x^2", "x * tanh(softplus(x))", "x*sigmoid(x)",
                                                                   "relu(x)", "sin(x) + x")]
    row = by_function(rows, ids)
    assert [(r["candidate_id"], r["baseline"]) for r in rows if r["baseline"]] == [(ids["x*sigmoid(x)"], "SiLU"),
                                                                                 (ids["relu(x)"], "ReLU")]
    # both confirmed: the confirmed means, with the standard error of the difference over 3 seeds
    top = row["x + x^2"]["vs_baselines"]
    assert [b["name"] for b in top] == ["ReLU", "SiLU"]
    assert top[0]["difference"] == pytest.approx(0.08) and top[1]["difference"] == pytest.approx(0.07)
    assert top[0]["spread"] == pytest.approx(math.sqrt(0.01**2 + 0.02**2) / math.sqrt(3))
    assert top[1]["spread"] == pytest.approx(math.sqrt(2) * 0.01 / math.sqrt(3))
    # not confirmed: the search fitnesses, no spread
    assert [(b["name"], round(b["difference"], 6), b["spread"]) for b in row["sin(x) + x"]["vs_baselines"]] == [
        ("ReLU", -0.08, None), ("SiLU", -0.09, None)]
    # a baseline compares with the others, not with itself
    assert [(b["name"], round(b["difference"], 6)) for b in row["relu(x)"]["vs_baselines"]] == [("SiLU", -0.01)]
    assert row["x + x^2"]["verdict"] == {"transfers": False, "fails_on": [DEEP], "summary": (
        f"fails on {DEEP}: 2 of 3 seeds did not train (nonfinite_loss)")}
    assert row["x * tanh(softplus(x))"]["verdict"] == {"transfers": True, "fails_on": [], "summary": "transfers"}
    assert row["relu(x)"]["verdict"] is None and row["sin(x) + x"]["verdict"] is None


def test_before_the_confirm_phase_rows_compare_search_fitnesses(client: TestClient, tokens: Tokens,
                                                                database: store.Database) -> None:
    ids = store_job(database, confirm=False)
    row = by_function(get(client, tokens, f"{JOBS}/{ids['job']}/leaderboard")["data"], ids)
    assert [(b["name"], round(b["difference"], 6), b["spread"]) for b in row["x + x^2"]["vs_baselines"]] == [
        ("ReLU", 0.07, None), ("SiLU", 0.06, None)]
    assert row["x + x^2"]["verdict"] is None


def test_a_page_without_the_baselines_compares_alike_in_one_query_more(client: TestClient, tokens: Tokens,
                                                                       database: store.Database) -> None:
    ids = store_job(database)
    path = f"{JOBS}/{ids['job']}/leaderboard"
    whole = get(client, tokens, path)["data"]
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(database.engine, "before_cursor_execute", count)
    try:
        first = get(client, tokens, path, limit=2)  # the top 2: neither baseline is on the page
        with_baselines = len(statements)
        statements.clear()
        get(client, tokens, path, limit=4)  # both on the page
        without = len(statements)
    finally:
        event.remove(database.engine, "before_cursor_execute", count)
    assert first["data"] == whole[:2]
    assert with_baselines == without + 1, (with_baselines, without)


def test_a_candidate_gives_its_verdict_task_by_task(client: TestClient, tokens: Tokens,
                                                    database: store.Database) -> None:
    ids = store_job(database)
    candidate = get(client, tokens, f"/api/v1/candidates/{ids['x + x^2']}")
    assert candidate["baseline"] is None
    assert [b["name"] for b in candidate["vs_baselines"]] == ["ReLU", "SiLU"]
    table = candidate["verdict"]
    assert table["transfers"] is False and table["fails_on"] == [DEEP]
    assert list(table["tasks"]) == ["mnist1d-mlp", DEEP]
    deep = table["tasks"][DEEP]
    assert (deep["mean"], deep["seeds"], deep["of"], deep["reason"]) == (0.5, 1, 3, "nonfinite_loss")
    assert deep["fails"] == "2 of 3 seeds did not train (nonfinite_loss)"
    assert deep["baselines"]["ReLU"]["mean"] == pytest.approx(0.72) and deep["baselines"]["SiLU"]["seeds"] == 3
    assert table["tasks"]["mnist1d-mlp"]["fails"] is None
    baseline = get(client, tokens, f"/api/v1/candidates/{ids['relu(x)']}")
    assert baseline["baseline"] == "ReLU" and baseline["verdict"] is None
    assert [b["name"] for b in baseline["vs_baselines"]] == ["SiLU"]


def test_operator_usage_leaves_the_baselines_out(client: TestClient, tokens: Tokens, database: store.Database) -> None:
    ids = store_job(database)
    insights = get(client, tokens, f"{JOBS}/{ids['job']}/insights", top=5)
    names = {op["name"] for op in insights["operators"]}
    assert insights["top"] == 5 and {"tanh", "softplus", "sin"} <= names  # the search's functions
    assert not names & {"relu", "sigmoid"}  # ReLU's and SiLU's, which rank among them
