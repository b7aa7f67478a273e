"""Server-sent events: ids, kinds, JSON data, resuming, keep-alives, and the end of the stream."""

from __future__ import annotations

import json
import threading

from fastapi.testclient import TestClient

import store
from api.client import _parse_sse
from tests.api.conftest import StoredJob, Tokens, append_events, finish


def read_stream(client: TestClient, job_id: int, headers: dict[str, str], **params: int) -> str:
    with client.stream("GET", f"/api/v1/jobs/{job_id}/events", headers=headers, params=params) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        return "".join(response.iter_text())


def events(text: str) -> list[dict[str, str]]:
    return list(_parse_sse(iter(text.splitlines())))


def test_a_finished_job_streams_every_event_then_ends(client: TestClient, tokens: Tokens, stored_job: StoredJob,
                                                      database: store.Database) -> None:
    job_id, _ = stored_job("alice", evaluate=False)
    ids = append_events(database, job_id, 3)
    finish(database, job_id)
    received = events(read_stream(client, job_id, tokens.alice))
    assert [e["event"] for e in received] == ["progress", "progress", "progress", "status", "end"]
    assert [int(e["id"]) for e in received[:3]] == ids
    assert [json.loads(e["data"]) for e in received[:3]] == [{"i": 0}, {"i": 1}, {"i": 2}]
    assert json.loads(received[3]["data"]) == {"status": "completed"}


def test_resume_with_last_event_id_or_after(client: TestClient, tokens: Tokens, stored_job: StoredJob,
                                            database: store.Database) -> None:
    job_id, _ = stored_job("alice", evaluate=False)
    ids = append_events(database, job_id, 5)
    finish(database, job_id)
    resumed = events(read_stream(client, job_id, {**tokens.alice, "Last-Event-ID": str(ids[2])}))
    assert [int(e["id"]) for e in resumed if e["event"] == "progress"] == ids[3:]
    after = events(read_stream(client, job_id, tokens.alice, after=ids[3]))
    assert [int(e["id"]) for e in after if e["event"] == "progress"] == ids[4:]
    bad = client.get(f"/api/v1/jobs/{job_id}/events", headers={**tokens.alice, "Last-Event-ID": "x"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["header", "last-event-id"]


def test_a_live_stream_follows_new_events_with_keepalives_until_the_job_ends(
        client: TestClient, tokens: Tokens, stored_job: StoredJob, database: store.Database) -> None:
    job_id, _ = stored_job("alice", evaluate=False)
    append_events(database, job_id, 1)
    first_seen = threading.Event()

    def runner() -> None:
        first_seen.wait(30)  # finish even without it: the stream must end, the asserts say what failed
        threading.Event().wait(0.3)  # a quiet spell: the stream sends keep-alives (every 0.1 s here)
        append_events(database, job_id, 2, kind="candidate")
        finish(database, job_id, "failed")

    thread = threading.Thread(target=runner)
    thread.start()
    text = []
    with client.stream("GET", f"/api/v1/jobs/{job_id}/events", headers=tokens.alice) as response:
        for chunk in response.iter_text():
            text.append(chunk)
            if "event: progress" in chunk:
                first_seen.set()
    thread.join()
    body = "".join(text)
    assert ": keep-alive" in body
    assert [e["event"] for e in events(body)] == ["progress", "candidate", "candidate", "status", "end"]
