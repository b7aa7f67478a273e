"""Health, Prometheus metrics, the catalogues, parsing expressions and the OpenAPI document."""

from __future__ import annotations

import re
import threading
import time

import pytest
from fastapi.testclient import TestClient

import store
from api._settings import Settings
from api.app import create_app
from tests.api.conftest import StoredJob, Tokens

API = "/api/v1"
SAMPLE = re.compile(r'^actsearch_[a-z_]+(\{[a-z_]+="[^"]*"\})? -?\d+(\.\d+)?$')


def test_metrics_are_prometheus_text(client: TestClient, tokens: Tokens, stored_job: StoredJob) -> None:
    stored_job("alice")
    stored_job("bob", evaluate=False)
    response = client.get(f"{API}/metrics", headers=tokens.alice)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    lines = response.text.splitlines()
    for line in lines:
        assert line.startswith(("# HELP ", "# TYPE ")) or SAMPLE.match(line), line
    values = {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1]) for line in lines if not line.startswith("#")}
    assert values['actsearch_jobs{status="queued"}'] == 2 and values['actsearch_jobs{status="running"}'] == 0
    assert values["actsearch_queue_depth"] == 2
    assert values["actsearch_evaluations_last_minute"] == 5 and values["actsearch_evaluations_finished_total"] == 5
    assert values["actsearch_evaluations_failed_total"] == 0 and values["actsearch_evaluations_rejected_total"] == 0
    types = dict(line.split()[2:4] for line in lines if line.startswith("# TYPE"))
    assert types["actsearch_evaluations_failed_total"] == "counter" and types["actsearch_jobs"] == "gauge"


def test_health_is_503_when_the_database_is_unreachable(client: TestClient, database: store.Database) -> None:
    import socket

    from store._db import create_store_engine

    assert client.get(f"{API}/healthz").json() == {"status": "ok", "database": "sqlite"}
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with store.Database(create_store_engine(f"postgresql://u@127.0.0.1:{port}/x")) as unreachable:
        client.app.state.database = unreachable  # type: ignore[attr-defined]
        try:
            response = client.get(f"{API}/healthz")
        finally:
            client.app.state.database = database  # type: ignore[attr-defined]
    assert response.status_code == 503 and response.json() == {"status": "unavailable", "database": "postgresql"}


def test_catalogues(client: TestClient, tokens: Tokens) -> None:
    operators = {op["name"]: op for op in client.get(f"{API}/operators", headers=tokens.alice).json()}
    assert operators["sigmoid"]["arity"] == 1 and operators["sigmoid_mul"]["arity"] == 2
    assert operators["beta_mul"]["has_beta"] is True
    tasks = {task["name"]: task for task in client.get(f"{API}/tasks", headers=tokens.alice).json()}
    assert tasks["mnist1d-mlp"]["budget"]["steps"] == 3000 and tasks["mnist1d-mlp"]["objective"] == "val_accuracy"
    assert tasks["npz"]["budget"] is None  # needs a path
    controllers = {c["kind"]: c for c in client.get(f"{API}/controllers", headers=tokens.alice).json()}
    assert controllers["evolution"]["params"]["population"] == 32
    assert {"random", "exhaustive", "rl", "tpe"} <= set(controllers)
    known = {k["name"]: k for k in client.get(f"{API}/known", headers=tokens.alice).json()}
    assert len(known) >= 60 and known["SiLU"]["year"] == 2017


def test_parse_an_expression(client: TestClient, tokens: Tokens) -> None:
    response = client.post(f"{API}/expressions/parse", json={"expression": "x/(1+exp(-x))"}, headers=tokens.alice)
    assert response.status_code == 200
    info = response.json()
    assert info["expression"] == "x * sigmoid(x)" and info["known_as"] == "SiLU"
    assert info["latex"] == "x \\sigma\\left(x\\right)" and len(info["fingerprint"]) == 16
    assert info["properties"]["smooth"] is True and "exp" in info["canonical"]


@pytest.mark.parametrize(("body", "message"), [
    ({"expression": "x +* 2"}, "column 4"),
    ({"expression": "__import__('os')"}, "unexpected character"),
    ({"expression": "x" * 5000}, "limit"),
    ({"expression": "x\x00"}, "NUL"),
    ({"expression": 3}, "string"),
    ({}, "required"),
])
def test_bad_expressions_are_422_naming_expression(client: TestClient, tokens: Tokens, body: object,
                                                   message: str) -> None:
    response = client.post(f"{API}/expressions/parse", json=body, headers=tokens.alice)
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert error["loc"] == ["body", "expression"] and message in error["msg"]


def test_slow_parses_do_not_hold_the_pool_other_requests_share(database: store.Database, tokens: Tokens) -> None:
    settings = Settings(db=database.url, parse_seconds=4, threads=1)
    slow_body = {"expression": "sin(" * 39 + "x" + ")" * 39}
    with TestClient(create_app(database=database, settings=settings)) as client:
        slow = [threading.Thread(target=client.post, args=(f"{API}/expressions/parse",),
                                 kwargs={"json": slow_body, "headers": tokens.alice}) for _ in range(2)]
        for thread in slow:
            thread.start()
        time.sleep(0.5)  # both parses are waiting on sympy now
        began = time.monotonic()
        assert client.get(f"{API}/jobs", headers=tokens.alice).status_code == 200
        assert time.monotonic() - began < 2, "a request waited for the slow parses"
        assert all(thread.is_alive() for thread in slow)
        for thread in slow:
            thread.join(timeout=30)


def test_an_expression_sympy_cannot_describe_in_time_is_422(database: store.Database, tokens: Tokens) -> None:
    settings = Settings(db=database.url, parse_seconds=2)
    with TestClient(create_app(database=database, settings=settings)) as client:
        slow = client.post(f"{API}/expressions/parse", json={"expression": "sin(" * 39 + "x" + ")" * 39},
                           headers=tokens.alice)
        assert slow.status_code == 422
        (error,) = slow.json()["detail"]
        assert error["loc"] == ["body", "expression"] and error["type"] == "analysis_timeout"
        again = client.post(f"{API}/expressions/parse", json={"expression": "max(x, 0)"}, headers=tokens.alice)
        assert again.status_code == 200 and again.json()["known_as"] == "ReLU"


def test_openapi_is_complete(client: TestClient) -> None:
    schema = client.get(f"{API}/openapi.json").json()
    operations = {op["operationId"]: op for ops in schema["paths"].values() for op in ops.values()}
    assert set(operations) == {
        "submit_job", "list_jobs", "get_job", "cancel_job", "get_leaderboard", "stream_job_events",
        "get_candidate", "list_candidate_evaluations", "export_candidate", "plot_candidate", "parse_expression",
        "list_operators", "list_tasks", "list_controllers", "list_known_functions", "health", "metrics",
        "candidate_curve", "count_space", "job_insights"}
    assert all(op.get("tags") and op.get("description") for op in operations.values())
    body = operations["submit_job"]["requestBody"]["content"]["application/json"]
    assert body["examples"]["swish"]["value"]["name"] == "swish-rediscovery"
    assert body["schema"] == {"$ref": "#/components/schemas/JobSpec"}  # the model that validates it
    spec = schema["components"]["schemas"]["JobSpec"]
    assert set(spec["properties"]) >= {"space", "controller", "task", "tasks", "aggregate", "baselines", "budget",
                                       "confirm", "seed", "rejection"}
    assert body["examples"]["multi"]["value"]["tasks"][0]["hurdle"] == -0.1
    assert "HTTPBearer" in schema["components"]["securitySchemes"]
    assert "security" not in operations["health"]
