"""Candidates: details, evaluations, export in every format, and the SVG plot."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from fastapi.testclient import TestClient

import store
from space import EXPORT_FORMATS, export, parse
from tests.api.conftest import StoredJob, Tokens

CANDIDATES = "/api/v1/candidates"


def test_candidate_details(client: TestClient, tokens: Tokens, stored_job: StoredJob) -> None:
    job_id, ids = stored_job("alice")
    candidate = client.get(f"{CANDIDATES}/{ids[0]}", headers=tokens.alice).json()
    assert candidate["id"] == ids[0] and candidate["job_id"] == job_id and candidate["number"] == 1
    assert candidate["expression"] == "x * sigmoid(x)" and len(candidate["fingerprint"]) == 16
    assert "class Activation(nn.Module)" in candidate["torch_source"]
    assert candidate["fitness"] == pytest.approx(0.9) and candidate["status"] == "ok"


def test_an_evaluation_says_what_its_wall_time_is_a_share_of(client: TestClient, tokens: Tokens, stored_job: StoredJob,
                                                               database: store.Database) -> None:
    """Issue 18: `wall time 0.355 s` beside `steps_per_second=291.3` for 600 steps could not be
    reconciled: the wall time is a member's share of its population's time, the rate the shared loop's."""
    _, ids = stored_job("alice")  # 5 evaluations with wall time 0.5 on worker "test": one population
    with database.session() as session:  # another seed of the first, trained alone
        evaluation, _ = store.add_evaluation(session=session, candidate_id=ids[0], task="mnist1d-mlp", seed=1,
                                             steps=20)
        store.finish_evaluation(session=session, evaluation_id=evaluation.id, status="ok", fitness=0.8,
                                metrics={"steps_per_second": 40.0}, wall_time=0.7, worker="test")
    rows = client.get(f"{CANDIDATES}/{ids[0]}/evaluations", headers=tokens.alice).json()["data"]
    assert [(r["wall_time"], r["population"]) for r in rows] == [(0.5, 5), (0.7, 1)]
    schema = client.get("/api/v1/openapi.json").json()["components"]["schemas"]["EvaluationPublic"]["properties"]
    assert "share" in schema["wall_time"]["description"] and "population" in schema["wall_time"]["description"]
    assert "shared" in schema["metrics"]["description"] and "steps_per_second" in schema["metrics"]["description"]


def test_evaluations_show_non_finite_metrics_as_strings(client: TestClient, tokens: Tokens, stored_job: StoredJob
                                                        ) -> None:
    _, ids = stored_job("alice")
    page = client.get(f"{CANDIDATES}/{ids[1]}/evaluations", headers=tokens.alice).json()
    assert page["count"] == 1
    (evaluation,) = page["data"]
    assert evaluation["task"] == "mnist1d-mlp" and evaluation["seed"] == 0 and evaluation["steps"] == 20
    assert evaluation["status"] == "ok" and evaluation["fitness"] == pytest.approx(0.8)
    assert evaluation["metrics"] == {"val_loss": "NaN"} and evaluation["finished_at"].endswith("Z")


@pytest.mark.parametrize("fmt", EXPORT_FORMATS)
def test_export_every_format(client: TestClient, tokens: Tokens, stored_job: StoredJob, fmt: str) -> None:
    _, ids = stored_job("alice")
    response = client.get(f"{CANDIDATES}/{ids[4]}/export", params={"format": fmt}, headers=tokens.alice)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert response.text.strip() == export(parse("x * sigmoid(beta * x)"), fmt).strip()
    if fmt == "torch":
        assert response.headers["content-disposition"] == f'attachment; filename="candidate_{ids[4]}.py"'
    else:
        assert "content-disposition" not in response.headers


def test_export_rejects_unknown_formats(client: TestClient, tokens: Tokens, stored_job: StoredJob) -> None:
    _, ids = stored_job("alice")
    response = client.get(f"{CANDIDATES}/{ids[0]}/export", params={"format": "fortran"}, headers=tokens.alice)
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["query", "format"]


@pytest.mark.parametrize("index", range(5))
def test_plot_is_valid_svg_with_f_and_its_derivative(client: TestClient, tokens: Tokens, stored_job: StoredJob,
                                                      index: int) -> None:
    _, ids = stored_job("alice", expressions=("x * sigmoid(x)", "max(x, 0)", "exp(x)", "log(abs(x))", "sinc(x)"))
    response = client.get(f"{CANDIDATES}/{ids[index]}/plot.svg", headers=tokens.alice)
    assert response.status_code == 200 and response.headers["content-type"] == "image/svg+xml"
    root = ET.fromstring(response.text)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    lines = root.findall("{http://www.w3.org/2000/svg}polyline")
    colors = {line.get("stroke") for line in lines}
    assert len(colors) == 2  # f and f'
    for line in lines:
        for point in (line.get("points") or "").split():
            x, y = map(float, point.split(","))
            assert 0 <= x <= 480 and -1000 < y < 1000


def test_unknown_candidates_are_404(client: TestClient, tokens: Tokens) -> None:
    for suffix in ("", "/evaluations", "/export", "/plot.svg"):
        assert client.get(f"{CANDIDATES}/424242{suffix}", headers=tokens.admin).status_code == 404
    assert client.get(f"{CANDIDATES}/0", headers=tokens.admin).status_code == 422
    assert client.get(f"{CANDIDATES}/{10**20}", headers=tokens.admin).status_code == 422


def test_the_signal_propagation_gains_are_shown_where_the_candidate_is(
        client: TestClient, tokens: Tokens, stored_job: StoredJob, database) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import update

    import store
    from worker._describe import slow_description

    job_id, ids = stored_job("alice", expressions=("max(x, 0)", "x + x^2"))
    with database.session() as session:  # what the runner's describer writes for every candidate
        for candidate_id, text in zip(ids, ("max(x, 0)", "x + x^2"), strict=True):
            session.execute(update(store.Candidate).where(store.Candidate.id == candidate_id)
                            .values(properties=slow_description(parse(text).to_json())["properties"]))
    relu = client.get(f"{CANDIDATES}/{ids[0]}", headers=tokens.alice).json()["properties"]
    assert relu["signal_gain"] == pytest.approx(1.0, abs=0.05) and relu["gradient_gain"] == pytest.approx(1.0, abs=0.05)
    board = client.get(f"/api/v1/jobs/{job_id}/leaderboard", headers=tokens.alice).json()["data"]
    exploding = next(row for row in board if row["candidate_id"] == ids[1])
    assert exploding["properties"]["signal_gain"] == "Infinity"  # strict JSON: the API's encoding of inf
    assert next(row for row in board if row["candidate_id"] == ids[0])["properties"]["signal_gain"] == relu["signal_gain"]
