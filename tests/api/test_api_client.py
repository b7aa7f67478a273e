"""The Python client and the HTTP client commands against a live server (uvicorn in a thread)."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest

import store
from api.client import ApiError, Client
from cli import main
from space import export, parse
from tests.api.conftest import SPEC, StoredJob, Tokens, append_events, finish
from tests.api.test_api_leaderboard import fill


@pytest.fixture
def alice(live_url: str, tokens: Tokens) -> Client:
    return Client(live_url, tokens.secrets["alice"])


def test_client_round_trip(alice: Client, stored_job: StoredJob) -> None:
    job = alice.submit(SPEC)
    assert job["status"] == "queued" and alice.job(job["id"])["id"] == job["id"]
    assert alice.jobs(status="queued")["count"] == 1
    assert alice.cancel(job["id"])["status"] == "cancelled"
    assert alice.wait(job["id"], timeout=5)["status"] == "cancelled"
    job_id, ids = stored_job("alice")
    board = alice.leaderboard(job_id, limit=2)
    assert board["count"] == 5 and [row["candidate_id"] for row in board["data"]] == ids[:2]
    assert alice.candidate(ids[0])["expression"] == "x * sigmoid(x)"
    assert alice.export(ids[0], "jax").strip() == export(parse("x * sigmoid(x)"), "jax").strip()
    assert alice.parse("max(x, 0)")["known_as"] == "ReLU"


def test_client_pages_the_whole_leaderboard_by_cursor(alice: Client, database: store.Database,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    job_id = fill(database, 23)  # ties of fitness among them
    asked: list[str | None] = []
    page = alice.leaderboard

    def spy(job: int, **kwargs: Any) -> dict[str, Any]:
        asked.append(kwargs.get("cursor"))
        return page(job, **kwargs)

    monkeypatch.setattr(alice, "leaderboard", spy)
    rows = list(alice.leaderboard_rows(job_id, page=5))
    whole = page(job_id, limit=500)["data"]
    assert [r["candidate_id"] for r in rows] == [r["candidate_id"] for r in whole]
    assert [r["rank"] for r in rows] == list(range(1, 24))
    assert len(asked) == 5 and asked[0] is None and all(asked[1:])  # a cursor from each page on


def test_cli_leaderboard_pages_by_cursor(live_url: str, tokens: Tokens, database: store.Database,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    server = ("--server", live_url, "--token", tokens.secrets["alice"])
    job_id = fill(database, 9)
    code, out, _ = run_cli(capsys, "leaderboard", str(job_id), *server, "--limit", "4")
    assert code == 0 and "(4 of 9 candidates; next page: --cursor " in out
    cursor = out.rsplit("--cursor ", 1)[1].rstrip(")\n")
    code, out, _ = run_cli(capsys, "leaderboard", str(job_id), *server, "--limit", "4", "--cursor", cursor, "--json")
    page = json.loads(out)
    assert code == 0 and [r["rank"] for r in page["data"]] == [5, 6, 7, 8] and page["next_cursor"]
    code, out, _ = run_cli(capsys, "leaderboard", str(job_id), *server, "--all", "--json")
    assert code == 0 and [r["rank"] for r in json.loads(out)["data"]] == list(range(1, 10))
    code, out, _ = run_cli(capsys, "leaderboard", str(job_id), *server, "--all")
    assert code == 0 and out.rstrip().endswith("(9 of 9 candidates)")
    code, _, err = run_cli(capsys, "leaderboard", str(job_id), *server, "--cursor", "nonsense")
    assert code == 2 and "cursor" in err and "422" in err


def test_client_errors_carry_status_and_message(alice: Client, live_url: str) -> None:
    with pytest.raises(ApiError) as error:
        alice.submit({**SPEC, "budget": {"candidates": -3}})
    assert error.value.status == 422 and error.value.message.startswith("budget.candidates: must be")
    with pytest.raises(ApiError) as error:
        alice.job(99999)
    assert error.value.status == 404 and error.value.message == "job 99999 not found"
    with pytest.raises(ApiError) as error:
        Client(live_url, "wrong").jobs()
    assert error.value.status == 401


def test_client_follows_events_until_the_job_ends(alice: Client, stored_job: StoredJob,
                                                  database: store.Database) -> None:
    job_id, _ = stored_job("alice", evaluate=False)
    ids = append_events(database, job_id, 2)
    threading.Timer(0.3, finish, (database, job_id)).start()
    received = list(alice.events(job_id))
    assert [e["event"] for e in received] == ["progress", "progress", "status"]
    assert [e["id"] for e in received[:2]] == ids and received[2]["data"] == {"status": "completed"}
    assert [e["id"] for e in alice.events(job_id, after=ids[0])][:1] == [ids[1]]


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    try:
        code = main(list(args))
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_commands(live_url: str, tokens: Tokens, stored_job: StoredJob, tmp_path: Path,
                      capsys: pytest.CaptureFixture[str]) -> None:
    server = ("--server", live_url, "--token", tokens.secrets["alice"])
    spec = tmp_path / "spec.yaml"
    spec.write_text("name: from-yaml\ncontroller: {kind: random}\nbudget: {candidates: 7}\n")
    code, out, err = run_cli(capsys, "submit", str(spec), *server, "--json")
    assert code == 0, err
    assert json.loads(out)["spec"]["budget"]["candidates"] == 7
    submitted = json.loads(out)["id"]
    code, out, _ = run_cli(capsys, "jobs", *server, "--json")
    assert code == 0 and json.loads(out)["count"] == 1
    code, out, _ = run_cli(capsys, "jobs", *server)
    assert code == 0 and "from-yaml" in out and "(1 of 1 jobs)" in out
    code, out, _ = run_cli(capsys, "cancel", str(submitted), *server)
    assert code == 0 and out.strip() == f"job {submitted}: cancelled"
    job_id, ids = stored_job("alice")
    code, out, _ = run_cli(capsys, "leaderboard", str(job_id), *server)
    assert code == 0 and "x * sigmoid(x)" in out.splitlines()[1] and "(5 of 5 candidates)" in out
    code, out, _ = run_cli(capsys, "leaderboard", str(job_id), *server, "--json", "--limit", "1")
    assert json.loads(out)["data"][0]["candidate_id"] == ids[0]
    code, out, _ = run_cli(capsys, "export", str(ids[1]), "--format", "numpy", *server)
    assert code == 0 and out == export(parse("max(x, 0)"), "numpy").rstrip("\n") + "\n"


def test_cli_errors_go_to_stderr(live_url: str, tokens: Tokens, tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({**SPEC, "budget": {"candidates": 0}}))
    code, out, err = run_cli(capsys, "submit", str(spec), "--server", live_url, "--token", tokens.secrets["bob"])
    assert code == 2 and out == "" and "budget.candidates" in err and "HTTP 422" in err
    code, _, err = run_cli(capsys, "jobs", "--server", live_url, "--token", "nope")
    assert code == 2 and "--token" in err
    code, _, err = run_cli(capsys, "jobs", "--server", "http://127.0.0.1:9", "--token", "x")
    assert code == 2 and "cannot reach" in err
    code, _, err = run_cli(capsys, "submit", str(tmp_path / "missing.yaml"), "--server", live_url)
    assert code == 2 and "cannot read" in err


def test_submit_watch_shows_progress_until_the_job_finishes(live_url: str, tokens: Tokens, tmp_path: Path,
                                                            database: store.Database,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps(SPEC))
    with database.session() as session:
        first_id = (store.list_jobs(session=session)[1]) + 1

    def finish_once_submitted() -> None:  # the job must exist (and be seen queued) before it ends
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with database.session() as session:
                if store.get_job(session=session, job_id=first_id) is not None:
                    break
            time.sleep(0.05)
        time.sleep(1.5)
        finish(database, first_id)

    threading.Thread(target=finish_once_submitted, daemon=True).start()
    code, out, err = run_cli(capsys, "submit", str(spec), "--watch", "--json", "--server", live_url,
                             "--token", tokens.secrets["alice"])
    assert code == 0, err
    assert f"job {first_id} queued: 0/10 candidates" in err and f"job {first_id} completed" in err
    result = json.loads(out)
    assert result["status"] == "completed" and result["top"] == []


def test_submit_watch_prints_the_final_state_once(live_url: str, tokens: Tokens, tmp_path: Path,
                                                  database: store.Database,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    # It was printed twice: as the last progress line on stderr and again on stdout.
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps(SPEC))
    with database.session() as session:
        job_id = store.list_jobs(session=session)[1] + 1
    threading.Timer(1.0, finish, (database, job_id)).start()
    code, out, err = run_cli(capsys, "submit", str(spec), "--watch", "--server", live_url,
                             "--token", tokens.secrets["alice"])
    assert code == 0, err
    final = f"job {job_id} completed: 0/10 candidates"
    assert (out + err).count(final) == 1 and out.startswith(final)
    assert f"job {job_id} queued" in err  # the live progress, on stderr


def test_watch_follows_an_existing_job(live_url: str, tokens: Tokens, stored_job: StoredJob, database: store.Database,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    server = ("--server", live_url, "--token", tokens.secrets["alice"])
    job_id, _ = stored_job("alice")
    threading.Timer(1.0, finish, (database, job_id)).start()
    code, out, err = run_cli(capsys, "watch", str(job_id), *server)
    assert code == 0, err
    assert out.splitlines()[0].startswith(f"job {job_id} completed: 5/10 candidates")
    assert "x * sigmoid(x)" in out.splitlines()[2]  # the top 5 under it
    code, out, _ = run_cli(capsys, "watch", str(job_id), *server, "--json")
    assert code == 0 and json.loads(out)["status"] == "completed" and len(json.loads(out)["top"]) == 5
    other, _ = stored_job("alice", name="cancelled")
    finish(database, other, status="cancelled")
    code, _, err = run_cli(capsys, "watch", str(other), *server)
    assert code == 1 and f"job {other} cancelled" in err
    code, _, err = run_cli(capsys, "watch", "99999", *server)
    assert code == 2 and "job 99999 not found" in err


def test_cancel_of_a_finished_job_says_nothing_was_cancelled(live_url: str, tokens: Tokens, stored_job: StoredJob,
                                                             database: store.Database,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    server = ("--server", live_url, "--token", tokens.secrets["alice"])
    job_id, _ = stored_job("alice")
    finish(database, job_id)
    code, out, err = run_cli(capsys, "cancel", str(job_id), *server)
    assert (code, out) == (1, "") and f"job {job_id} is already completed; nothing was cancelled" in err
    queued, _ = stored_job("alice", name="queued")
    assert run_cli(capsys, "cancel", str(queued), *server)[:2] == (0, f"job {queued}: cancelled\n")
    code, _, err = run_cli(capsys, "cancel", str(queued), *server, "--json")  # again: nothing to do
    assert code == 1 and "is already cancelled" in err


def test_the_cli_shows_why_a_job_stopped_and_warns_of_a_small_space(
        live_url: str, tokens: Tokens, stored_job: StoredJob, database: store.Database, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    server = ("--server", live_url, "--token", tokens.secrets["alice"])
    job_id, _ = stored_job("alice")
    with database.session() as session:
        store.save_progress(session=session, job_id=job_id, summary={"stop": "exhausted", "candidates": 5})
    finish(database, job_id)
    code, out, _ = run_cli(capsys, "jobs", *server)
    assert code == 0 and "stopped by" in out.splitlines()[0]
    assert "space exhausted" in next(line for line in out.splitlines() if line.split()[0] == str(job_id))
    code, out, _ = run_cli(capsys, "watch", str(job_id), *server)
    assert out.startswith(f"job {job_id} completed (space exhausted): 5/10 candidates")
    spec = tmp_path / "small.json"
    spec.write_text(json.dumps({**SPEC, "space": {"unary": ["x"], "binary": ["add"]}, "budget": {"candidates": 500}}))
    code, out, err = run_cli(capsys, "submit", str(spec), *server, "--json")
    assert code == 0 and "actsearch: warning: the space holds" in err
    assert json.loads(out)["warnings"]  # and in the JSON


def test_the_client_says_every_problem_of_a_spec(alice: Client) -> None:
    with pytest.raises(ApiError) as error:
        alice.submit({**SPEC, "budget": {"candidates": 0}, "seed": -1, "colour": "blue"})
    assert error.value.status == 422
    for field in ("colour: unknown field", "budget.candidates: must be an integer in [1, 100000], got 0",
                  "seed: must be an integer in [0, 2147483647], got -1"):
        assert field in error.value.message, error.value.message


def test_the_cli_compares_with_the_baselines_and_gives_the_verdict(
        live_url: str, tokens: Tokens, database: store.Database, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.api.test_api_baselines import DEEP, store_job

    server = ("--server", live_url, "--token", tokens.secrets["alice"])
    ids = store_job(database)
    finish(database, ids["job"])
    code, out, _ = run_cli(capsys, "leaderboard", str(ids["job"]), *server)
    assert code == 0
    head, *lines = out.splitlines()
    assert "vs baselines" in head and "verdict" in head
    row = {int(line.split()[1]): line for line in lines[:-1]}
    assert "+0.0800 ± 0.0129 over ReLU, +0.0700 ± 0.0082 over SiLU" in row[ids["x + x^2"]]
    assert f"fails on {DEEP}" in row[ids["x + x^2"]] and "transfers" in row[ids["x * tanh(softplus(x))"]]
    assert "baseline ReLU; -0.0100 ± 0.0129 vs SiLU" in row[ids["relu(x)"]]
    assert "-0.0800 vs ReLU, -0.0900 vs SiLU" in row[ids["sin(x) + x"]]  # search fitness: no spread
    # watch's top 5 is the same table, under progress that counts the search's candidates only
    code, out, _ = run_cli(capsys, "watch", str(ids["job"]), *server)
    assert code == 0 and out.startswith(f"job {ids['job']} completed: 3/10 candidates")
    assert "+0.0800 ± 0.0129 over ReLU" in out and "baseline SiLU" in out
