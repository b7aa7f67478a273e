"""Authentication: every route but /healthz needs a live bearer token; tokens from the CLI."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

import store
from cli import main
from tests.api.conftest import StoredJob, Tokens, new_token

ROUTES = [
    ("GET", "/api/v1/candidates/{candidate}/curve"), ("POST", "/api/v1/spaces/count"),
    ("GET", "/api/v1/jobs/{job}/insights"),
    ("POST", "/api/v1/jobs"), ("GET", "/api/v1/jobs"), ("GET", "/api/v1/jobs/{job}"),
    ("POST", "/api/v1/jobs/{job}/cancel"), ("GET", "/api/v1/jobs/{job}/leaderboard"),
    ("GET", "/api/v1/jobs/{job}/events"), ("GET", "/api/v1/candidates/{candidate}"),
    ("GET", "/api/v1/candidates/{candidate}/evaluations"), ("GET", "/api/v1/candidates/{candidate}/export"),
    ("GET", "/api/v1/candidates/{candidate}/plot.svg"), ("POST", "/api/v1/expressions/parse"),
    ("GET", "/api/v1/operators"), ("GET", "/api/v1/tasks"), ("GET", "/api/v1/controllers"),
    ("GET", "/api/v1/known"), ("GET", "/api/v1/metrics"),
]


def test_every_route_is_listed_here(client: TestClient) -> None:
    schema = client.get("/api/v1/openapi.json").json()
    documented = {(method.upper(), path) for path, ops in schema["paths"].items() for method in ops}
    listed = {(m, p.replace("{job}", "{job_id}").replace("{candidate}", "{candidate_id}")) for m, p in ROUTES}
    assert documented == listed | {("GET", "/api/v1/healthz")}


@pytest.mark.parametrize(("method", "path"), ROUTES)
@pytest.mark.parametrize("authorization", [None, "Bearer nonsense", "Basic YWxpY2U6c2VjcmV0", "Bearer ", "revoked"])
def test_missing_invalid_or_revoked_tokens_are_401(client: TestClient, database: store.Database, tokens: Tokens,
                                                   stored_job: StoredJob, method: str, path: str,
                                                   authorization: str | None) -> None:
    job_id, ids = stored_job("alice", expressions=("x",), evaluate=False)
    if authorization == "revoked":
        token_id, secret = new_token(database, "alice")
        with database.session() as session:
            store.revoke_token(session=session, token_id=token_id)
        authorization = f"Bearer {secret}"
    headers = {} if authorization is None else {"Authorization": authorization}
    url = path.format(job=job_id, candidate=ids[0])
    response = client.request(method, url, headers=headers, json={"expression": "x"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert isinstance(response.json()["detail"], str)


def test_healthz_needs_no_token(client: TestClient) -> None:
    assert client.get("/api/v1/healthz").json() == {"status": "ok", "database": "sqlite"}


def test_token_cli_creates_lists_and_revokes(client: TestClient, database: store.Database,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["token", "create", "--name", "laptop", "--owner", "dana", "--max-candidates", "5",
                 "--db", database.url, "--json"]) == 0
    created = json.loads(capsys.readouterr().out)
    assert created["owner"] == "dana" and created["admin"] is False
    headers = {"Authorization": f"Bearer {created['secret']}"}
    assert client.get("/api/v1/jobs", headers=headers).status_code == 200
    assert main(["token", "list", "--db", database.url, "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)["data"]
    assert [(t["owner"], t["max_candidates"]) for t in listed] == [("dana", 5)]
    assert created["secret"] not in json.dumps(listed)
    assert main(["token", "revoke", str(created["id"]), "--db", database.url]) == 0
    assert client.get("/api/v1/jobs", headers=headers).status_code == 401
    assert main(["token", "revoke", "999", "--db", database.url]) == 2


def test_a_token_revoked_after_a_cached_page_is_refused_on_the_next_request(
    client: TestClient, database: store.Database, stored_job: StoredJob
) -> None:
    job_id, _ = stored_job("alice", expressions=("x",), evaluate=False)
    token_id, secret = new_token(database, "alice")
    headers = {"Authorization": f"Bearer {secret}"}
    assert client.get(f"/api/v1/jobs/{job_id}/leaderboard", headers=headers).status_code == 200  # now cached
    with database.session() as session:
        store.revoke_token(session=session, token_id=token_id)
    assert client.get(f"/api/v1/jobs/{job_id}/leaderboard", headers=headers).status_code == 401
