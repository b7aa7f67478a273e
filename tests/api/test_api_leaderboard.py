"""GET /jobs/{id}/leaderboard paged by cursor, on SQLite and PostgreSQL: every row once, in the
offset order, ties included; rows arriving between requests repeat none; a bad cursor is a 422."""

from __future__ import annotations

import base64
import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert, update

import store
from tests.api.conftest import SPEC, Tokens

JOBS = "/api/v1/jobs"


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[store.Database]:
    """This module's API runs on both stores (the other API tests: SQLite)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'api.db'}"
    else:
        url = request.getfixturevalue("postgres").create_schema()
    db = store.connect(url)
    yield db
    db.dispose()


def fill(database: store.Database, count: int, *, owner: str = "alice", seed: int = 0) -> int:
    """A job of ``count`` candidates whose fitnesses tie often (a few values, some unknown),
    the best few confirmed with tied means."""
    rng = random.Random(seed)
    with database.session() as session:
        job_id = store.create_job(session=session, name="board", owner=owner, spec=SPEC).id
        session.execute(insert(store.Candidate), [
            {"job_id": job_id, "number": n, "fingerprint": f"{n:032x}", "expression": f"x * {n}", "expr_json": {},
             "canonical": "x", "latex": "x", "torch_source": "", "properties": {},
             "fitness": rng.choice([0.2, 0.4, 0.6, None]), "confirmed_seeds": 0}
            for n in range(1, count + 1)])
        session.execute(update(store.Job).where(store.Job.id == job_id).values(candidates_proposed=count))
        session.execute(update(store.Candidate).where(store.Candidate.job_id == job_id, store.Candidate.number <= 6)
                        .values(confirmed_mean=0.5, confirmed_seeds=3))
    return job_id


def board(client: TestClient, tokens: Tokens, job_id: int, **params: Any) -> dict[str, Any]:
    response = client.get(f"{JOBS}/{job_id}/leaderboard", params=params, headers=tokens.alice)
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


def by_cursor(client: TestClient, tokens: Tokens, job_id: int, limit: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    page = board(client, tokens, job_id, limit=limit)
    while True:
        rows += page["data"]
        if page["next_cursor"] is None:
            return rows
        assert len(page["data"]) == limit
        page = board(client, tokens, job_id, limit=limit, cursor=page["next_cursor"])


@pytest.mark.parametrize("limit", [1, 7, 35, 50])
def test_pages_by_cursor_are_the_pages_by_offset(client: TestClient, tokens: Tokens, database: store.Database,
                                                 limit: int) -> None:
    job_id = fill(database, 35)
    rows = by_cursor(client, tokens, job_id, limit)
    by_offset = [row for offset in range(0, 35, limit)
                 for row in board(client, tokens, job_id, limit=limit, offset=offset)["data"]]
    assert [r["candidate_id"] for r in rows] == [r["candidate_id"] for r in by_offset]
    assert [r["rank"] for r in rows] == list(range(1, 36)) == [r["rank"] for r in by_offset]
    assert len({r["candidate_id"] for r in rows}) == 35
    # the last page says it is the last even when it is full (35 rows in pages of 7 or 35)
    assert board(client, tokens, job_id, limit=35)["next_cursor"] is None
    assert board(client, tokens, job_id, limit=34)["next_cursor"] is not None


def test_an_offset_page_gives_a_cursor_to_go_on_with(client: TestClient, tokens: Tokens,
                                                     database: store.Database) -> None:
    job_id = fill(database, 20)
    everything = board(client, tokens, job_id, limit=20)["data"]
    page = board(client, tokens, job_id, limit=5, offset=10)
    after = board(client, tokens, job_id, limit=5, cursor=page["next_cursor"])
    assert [r["candidate_id"] for r in after["data"]] == [r["candidate_id"] for r in everything[15:]]
    assert [r["rank"] for r in after["data"]] == [16, 17, 18, 19, 20] and after["next_cursor"] is None


def test_rows_arriving_between_requests_repeat_no_row(client: TestClient, tokens: Tokens,
                                                      database: store.Database) -> None:
    job_id = fill(database, 30, seed=3)
    first = board(client, tokens, job_id, limit=10)
    with database.session() as session:  # a new leader, one in the middle, one still pending
        session.execute(insert(store.Candidate), [
            {"job_id": job_id, "number": 30 + i, "fingerprint": f"new{i:029d}", "expression": "x", "expr_json": {},
             "canonical": "x", "latex": "x", "torch_source": "", "properties": {}, "fitness": fitness,
             "confirmed_mean": mean, "confirmed_seeds": 0}
            for i, (fitness, mean) in enumerate([(0.9, 0.9), (0.3, None), (None, None)], start=1)])
        session.execute(update(store.Job).where(store.Job.id == job_id).values(candidates_proposed=33))
    seen = first["data"]
    cursor = first["next_cursor"]
    while cursor is not None:
        page = board(client, tokens, job_id, limit=10, cursor=cursor)
        seen += page["data"]
        cursor = page["next_cursor"]
    ids = [r["candidate_id"] for r in seen]
    assert len(ids) == len(set(ids)) == 32  # the 30, and the 2 that rank after the first page
    expressions = [r["expression"] for r in seen]
    assert expressions.count("x") == 2  # the new leader ranks before the first page: not on a later one


def _encoded(fields: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(fields).encode()).decode()


def test_a_bad_cursor_is_a_422_naming_it(client: TestClient, tokens: Tokens, database: store.Database) -> None:
    job_id = fill(database, 5)
    other = fill(database, 5)
    good = board(client, tokens, job_id, limit=2)["next_cursor"]
    foreign = board(client, tokens, other, limit=2)["next_cursor"]
    bad = ["", "abc", "!!!!", base64.urlsafe_b64encode(b"\xff\xfe").decode(), _encoded({"a": 1}),
           _encoded([2, job_id, 2, None, 0.5, 1, 1]),  # another format version
           _encoded([1, job_id, 2, None, "0.5", 1, 1]), _encoded([1, job_id, -1, None, 0.5, 1, 1]),
           _encoded([1, job_id, 2, None, 0.5, 1, True]), _encoded([1, job_id, 2, None, 0.5, 1, 2**40]),
           base64.urlsafe_b64encode(f"[1,{job_id},2,NaN,0.5,1,1]".encode()).decode(),
           base64.urlsafe_b64encode(f"[1,{job_id},2,1e999,0.5,1,1]".encode()).decode(),
           good + "x" * 300, foreign]
    for cursor in bad:
        response = client.get(f"{JOBS}/{job_id}/leaderboard", params={"cursor": cursor}, headers=tokens.alice)
        assert response.status_code == 422, (cursor, response.text)
        assert response.json()["detail"][0]["loc"] == ["query", "cursor"], (cursor, response.text)
    assert "job" in client.get(f"{JOBS}/{job_id}/leaderboard", params={"cursor": foreign},
                               headers=tokens.alice).json()["detail"][0]["msg"]
    both = client.get(f"{JOBS}/{job_id}/leaderboard", params={"cursor": good, "offset": 1}, headers=tokens.alice)
    assert both.status_code == 422 and both.json()["detail"][0]["loc"] == ["query", "offset"]
    # someone else's job: 404 whatever the cursor, as without one
    assert client.get(f"{JOBS}/{job_id}/leaderboard", params={"cursor": "abc"},
                      headers=tokens.bob).status_code == 404
