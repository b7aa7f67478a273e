"""Jobs: submission (202 + Location), validation naming fields, quotas, listing, cancel, ranking."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient

import store
from tests.api.conftest import SPEC, StoredJob, Tokens, new_token

JOBS = "/api/v1/jobs"


def test_submit_answers_202_with_location_and_stores_the_normalized_spec(client: TestClient, tokens: Tokens) -> None:
    response = client.post(JOBS, json=SPEC, headers=tokens.alice)
    assert response.status_code == 202, response.text
    job = response.json()
    assert response.headers["location"] == f"/api/v1/jobs/{job['id']}"
    assert job["status"] == "queued" and job["owner"] == "alice" and job["name"] == "api-test"
    assert job["spec"]["confirm"] == {"top_k": 5, "seeds": 3, "steps": None, "tasks": []}  # defaults filled in
    assert job["progress"] == {"candidates_done": 0, "candidates_budget": 10, "fraction": 0.0,
                               "evaluations_done": 0, "rejected": 0, "failed": 0, "confirm_evaluations": None,
                               "confirm_done": None, "confirm_eta_seconds": None}
    again = client.get(response.headers["location"], headers=tokens.alice)
    assert again.status_code == 200 and again.json()["spec"] == job["spec"]


@pytest.mark.parametrize(("changes", "loc"), [
    ({"budget": {"candidates": 0}}, ["body", "budget", "candidates"]),
    ({"budget": {"candidates": 10**400}}, ["body", "budget", "candidates"]),
    ({"budget": {"seconds": -1}}, ["body", "budget", "seconds"]),
    ({"controller": {"kind": "evolution", "params": {"population": "big"}}},
     ["body", "controller", "params", "population"]),
    ({"controller": {"kind": "annealing"}}, ["body", "controller", "kind"]),
    ({"space": {"unary": ["x", "frobnicate"]}}, ["body", "space", "unary"]),
    ({"task": {"name": "imagenet"}}, ["body", "task", "name"]),
    ({"confirm": {"tasks": ["mnist1d-mlp", "nope"]}}, ["body", "confirm", "tasks", 1]),
    ({"colour": "blue"}, ["body", "colour"]),
    ({"name": "a\x00b"}, ["body", "name"]),
    ({"name": "\ud800"}, ["body", "name"]),
    ({"name": ""}, ["body", "name"]),
    ({"seed": -1}, ["body", "seed"]),
])
def test_invalid_specs_are_422_naming_the_field(client: TestClient, tokens: Tokens, changes: dict[str, Any],
                                                loc: list[Any]) -> None:
    body = json.dumps({**SPEC, **changes})  # ASCII: a lone surrogate travels as an escape
    response = client.post(JOBS, content=body, headers={**tokens.alice, "Content-Type": "application/json"})
    assert response.status_code == 422, response.text
    (error,) = response.json()["detail"]
    assert error["loc"][: len(loc)] == loc
    assert set(error) == {"loc", "msg", "type"} and error["msg"]


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b'"spec"', b"null", b"[" * 5000 + b"]" * 5000])
def test_malformed_bodies_are_422(client: TestClient, tokens: Tokens, body: bytes) -> None:
    headers = {**tokens.alice, "Content-Type": "application/json"}
    response = client.post(JOBS, content=body, headers=headers)
    assert response.status_code in (400, 422), response.text
    assert isinstance(response.json()["detail"], list | str)


def test_a_body_over_the_limit_is_413(client: TestClient, tokens: Tokens) -> None:
    big = {**SPEC, "name": "x" * 200_000}
    assert client.post(JOBS, json=big, headers=tokens.alice).status_code == 413

    def chunks() -> Any:  # no Content-Length: counted as it streams
        yield b'{"name": "'
        for _ in range(200):
            yield b"x" * 1000
        yield b'"}'

    response = client.post(JOBS, content=chunks(), headers={**tokens.alice, "Content-Type": "application/json"})
    assert response.status_code == 413


def test_quotas_of_a_token(client: TestClient, tokens: Tokens, database: store.Database) -> None:
    _, secret = new_token(database, "carol", max_concurrent_jobs=1, max_candidates=20)
    carol = {"Authorization": f"Bearer {secret}"}
    too_many = client.post(JOBS, json={**SPEC, "budget": {"candidates": 21}}, headers=carol)
    assert too_many.status_code == 422
    assert too_many.json()["detail"][0]["loc"] == ["body", "budget", "candidates"]
    assert "at most 20" in too_many.json()["detail"][0]["msg"]
    first = client.post(JOBS, json=SPEC, headers=carol)
    assert first.status_code == 202
    second = client.post(JOBS, json=SPEC, headers=carol)
    assert second.status_code == 429 and "limit is 1" in second.json()["detail"]
    client.post(f"{JOBS}/{first.json()['id']}/cancel", headers=carol)
    assert client.post(JOBS, json=SPEC, headers=carol).status_code == 202


def test_listing_filters_pages_and_separates_owners(client: TestClient, tokens: Tokens, stored_job: StoredJob
                                                    ) -> None:
    for i in range(5):
        stored_job("alice", name=f"alpha-{i}", evaluate=False)
    stored_job("bob", name="beta", evaluate=False)
    page = client.get(JOBS, params={"limit": 2, "offset": 1}, headers=tokens.alice).json()
    assert page["count"] == 5 and [j["name"] for j in page["data"]] == ["alpha-3", "alpha-2"]
    assert client.get(JOBS, params={"name": "ALPHA-4"}, headers=tokens.alice).json()["count"] == 1
    assert client.get(JOBS, params={"status": "running"}, headers=tokens.alice).json()["count"] == 0
    assert client.get(JOBS, params={"status": "queued"}, headers=tokens.alice).json()["count"] == 5
    assert [j["name"] for j in client.get(JOBS, headers=tokens.bob).json()["data"]] == ["beta"]
    assert client.get(JOBS, headers=tokens.admin).json()["count"] == 6


@pytest.mark.parametrize("params", [{"limit": 501}, {"limit": 0}, {"offset": -1}, {"limit": "ten"},
                                    {"status": "sleeping"}, {"offset": 10**30}, {"name": "a\x00"}])
def test_bad_paging_and_filters_are_422(client: TestClient, tokens: Tokens, params: dict[str, Any]) -> None:
    response = client.get(JOBS, params=params, headers=tokens.alice)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][0] == "query"


def test_other_owners_get_404_and_admins_see_everything(client: TestClient, tokens: Tokens, stored_job: StoredJob
                                                        ) -> None:
    job_id, candidate_ids = stored_job("alice")
    for path in (f"{JOBS}/{job_id}", f"{JOBS}/{job_id}/leaderboard", f"{JOBS}/{job_id}/events",
                 f"/api/v1/candidates/{candidate_ids[0]}", f"/api/v1/candidates/{candidate_ids[0]}/evaluations",
                 f"/api/v1/candidates/{candidate_ids[0]}/export", f"/api/v1/candidates/{candidate_ids[0]}/plot.svg"):
        response = client.get(path, headers=tokens.bob)
        assert response.status_code == 404, path
        assert "not found" in response.json()["detail"]
    assert client.post(f"{JOBS}/{job_id}/cancel", headers=tokens.bob).status_code == 404
    assert client.get(f"{JOBS}/{job_id}", headers=tokens.admin).json()["owner"] == "alice"
    assert client.get(f"{JOBS}/987654", headers=tokens.admin).status_code == 404


def test_get_job_reports_progress(client: TestClient, tokens: Tokens, stored_job: StoredJob) -> None:
    job_id, _ = stored_job("alice")
    job = client.get(f"{JOBS}/{job_id}", headers=tokens.alice).json()
    assert job["progress"]["candidates_done"] == 5 and job["progress"]["candidates_budget"] == 10
    assert job["progress"]["fraction"] == 0.5 and job["progress"]["evaluations_done"] == 5
    assert job["best_fitness"] == pytest.approx(0.9)
    assert job["created_at"].endswith("Z") and job["status"] == "queued" and job["phase"] is None


def test_the_confirm_phase_reports_its_evaluations_and_time_left(client: TestClient, tokens: Tokens,
                                                                  stored_job: StoredJob, database: store.Database
                                                                  ) -> None:
    job_id, _ = stored_job("alice")

    def progress() -> dict[str, Any]:
        body = client.get(f"{JOBS}/{job_id}", headers=tokens.alice).json()
        return {k: v for k, v in body["progress"].items() if k.startswith("confirm")}

    assert progress() == {"confirm_evaluations": None, "confirm_done": None, "confirm_eta_seconds": None}
    with database.session() as session:  # as the runner saves its tally: 80 s left, estimated at 140 s
        store.save_progress(session=session, job_id=job_id, phase="confirm", elapsed_seconds=140.0, summary={
            "stop": "candidates", "confirm": {"evaluations": 12, "done": 4, "eta_seconds": 80.0, "at": 140.0}})
    assert progress() == {"confirm_evaluations": 12, "confirm_done": 4, "confirm_eta_seconds": 80.0}
    with database.session() as session:  # a heartbeat 30 s later: the estimate counts down with it
        store.save_progress(session=session, job_id=job_id, elapsed_seconds=170.0)
    assert progress()["confirm_eta_seconds"] == 50.0


def test_cancel_a_queued_job_is_immediate_idempotent_and_logged(client: TestClient, tokens: Tokens,
                                                                stored_job: StoredJob, database: store.Database
                                                                ) -> None:
    job_id, _ = stored_job("alice", evaluate=False)
    first = client.post(f"{JOBS}/{job_id}/cancel", headers=tokens.alice)
    assert first.status_code == 202 and first.json()["status"] == "cancelled"
    again = client.post(f"{JOBS}/{job_id}/cancel", headers=tokens.admin)
    assert again.status_code == 202 and again.json()["status"] == "cancelled"
    with database.session() as session:
        events = store.events_after(session=session, job_id=job_id)
    assert [(e.kind, e.data["status"]) for e in events] == [("status", "cancelled")]


def test_cancel_a_running_job_requests_it(client: TestClient, tokens: Tokens, stored_job: StoredJob,
                                          database: store.Database) -> None:
    job_id, _ = stored_job("alice", evaluate=False)
    with database.session() as session:
        store.claim_job(session=session, runner="r", lease_seconds=60)
    job = client.post(f"{JOBS}/{job_id}/cancel", headers=tokens.alice).json()
    assert job["status"] == "running" and job["cancel_requested"] is True


def test_a_cached_leaderboard_shows_a_new_result_at_once(client: TestClient, tokens: Tokens, stored_job: StoredJob,
                                                         database: store.Database) -> None:
    job_id, ids = stored_job("alice")
    url = f"{JOBS}/{job_id}/leaderboard"
    assert client.get(url, headers=tokens.alice).json()["data"][0]["candidate_id"] == ids[0]  # now cached
    with database.session() as session:  # the last candidate trains again and now wins
        evaluation, _ = store.add_evaluation(session=session, candidate_id=ids[-1], task="mnist1d-mlp", seed=0,
                                             steps=40)
        store.finish_evaluation(session=session, evaluation_id=evaluation.id, status="ok", fitness=0.99,
                                metrics={}, wall_time=0.5, worker="test")
    again = client.get(url, headers=tokens.alice).json()
    assert again["data"][0]["candidate_id"] == ids[-1] and again["data"][0]["fitness"] == pytest.approx(0.99)
    assert client.get(url, headers=tokens.bob).status_code == 404  # the owner check is never cached


def test_a_candidate_change_the_job_does_not_record_shows_within_the_cache_time(
        client: TestClient, tokens: Tokens, stored_job: StoredJob, database: store.Database, app) -> None:
    app.state.leaderboards.seconds = 0.2
    job_id, ids = stored_job("alice")
    url = f"{JOBS}/{job_id}/leaderboard"
    client.get(url, headers=tokens.alice)
    with database.session() as session:  # as the describer fills in a canonical form
        session.get(store.Candidate, ids[0]).canonical = "x/(1 + exp(-x))"
    deadline = time.monotonic() + 5
    while client.get(url, headers=tokens.alice).json()["data"][0]["canonical"] != "x/(1 + exp(-x))":
        assert time.monotonic() < deadline, "the cached page outlived its time limit"
        time.sleep(0.05)


def test_leaderboard_ranks_and_pages(client: TestClient, tokens: Tokens, stored_job: StoredJob) -> None:
    job_id, ids = stored_job("alice")
    board = client.get(f"{JOBS}/{job_id}/leaderboard", headers=tokens.alice).json()
    assert board["count"] == 5 and board["job_id"] == job_id
    assert [row["candidate_id"] for row in board["data"]] == ids
    top = board["data"][0]
    assert top["rank"] == 1 and top["fitness"] == pytest.approx(0.9) and top["expression"] == "x * sigmoid(x)"
    assert top["status"] == "ok" and top["latex"] and top["canonical"] and top["properties"]["smooth"] is True
    assert {"confirmed_mean", "confirmed_std", "confirmed_seeds", "known_as"} <= set(top)
    page = client.get(f"{JOBS}/{job_id}/leaderboard", params={"limit": 2, "offset": 2}, headers=tokens.alice).json()
    assert [row["rank"] for row in page["data"]] == [3, 4] and [r["candidate_id"] for r in page["data"]] == ids[2:4]
    assert client.get(f"{JOBS}/{job_id}/leaderboard", params={"limit": 1000}, headers=tokens.alice).status_code == 422


def test_a_data_path_outside_the_data_directories_is_422_alike_whether_it_exists_or_not(
        client: TestClient, tokens: Tokens, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.evaluator.test_tasks_vision import write_npz

    (tmp_path / "data").mkdir()
    monkeypatch.setenv("ACTSEARCH_DATA_DIRS", str(tmp_path / "data"))
    write_npz(tmp_path / "data" / "ok.npz")
    existing = write_npz(tmp_path / "private.npz")
    answers = []
    for path in (str(existing), str(tmp_path / "absent.npz"), "../private.npz"):
        response = client.post(JOBS, json={**SPEC, "task": {"name": "npz", "options": {"path": path}}},
                               headers=tokens.alice)
        assert response.status_code == 422, response.text
        answers.append(response.json())
    assert answers[0] == answers[1] == answers[2]
    (error,) = answers[0]["detail"]
    assert error["loc"] == ["body", "task", "options", "path"] and "data directories" in error["msg"]
    accepted = client.post(JOBS, json={**SPEC, "task": {"name": "npz", "options": {"path": "ok.npz"}}},
                           headers=tokens.alice)
    assert accepted.status_code == 202, accepted.text
    assert accepted.json()["spec"]["task"]["options"]["path"] == str(tmp_path / "data" / "ok.npz")


def test_a_space_smaller_than_the_budget_is_accepted_with_a_warning(client: TestClient, tokens: Tokens) -> None:
    small = {**SPEC, "space": {"unary": ["x", "sigmoid"], "binary": ["mul"], "units": 1},
             "budget": {"candidates": 100_000}}
    response = client.post(JOBS, json=small, headers=tokens.alice)
    assert response.status_code == 202, response.text
    (warning,) = response.json()["warnings"]
    assert "fewer than budget.candidates (100000)" in warning and "exhausted" in warning
    plain = client.post(JOBS, json=SPEC, headers=tokens.alice)
    assert plain.status_code == 202 and plain.json()["warnings"] == []
    assert "warnings" not in client.get(plain.headers["location"], headers=tokens.alice).json()


def test_the_stop_reason_is_on_the_job_and_in_the_list(client: TestClient, tokens: Tokens, stored_job: StoredJob,
                                                       database: store.Database) -> None:
    from tests.api.conftest import finish

    exhausted, _ = stored_job("alice", name="exhausted")
    cancelled, _ = stored_job("alice", name="cancelled")
    searching, _ = stored_job("alice", name="searching")
    with database.session() as session:  # as the runner saves it when the search phase ends
        store.save_progress(session=session, job_id=exhausted, phase="confirm",
                            summary={"stop": "exhausted", "candidates": 5})
    finish(database, exhausted)
    finish(database, cancelled, status="cancelled")

    def reason(job_id: int) -> Any:
        return client.get(f"{JOBS}/{job_id}", headers=tokens.alice).json()["stop_reason"]

    assert (reason(exhausted), reason(cancelled), reason(searching)) == ("exhausted", "cancelled", None)
    listed = {job["id"]: job["stop_reason"] for job in client.get(JOBS, headers=tokens.alice).json()["data"]}
    assert listed == {exhausted: "exhausted", cancelled: "cancelled", searching: None}


def test_every_problem_of_a_spec_is_in_one_422(client: TestClient, tokens: Tokens) -> None:
    body = {**SPEC, "budget": {"candidates": 0}, "task": {"name": "mnist1d-mlp", "seeds": 0},
            "controller": {"kind": "evolution", "params": {"population": 10**9}}, "colour": "blue"}
    response = client.post(JOBS, json=body, headers=tokens.alice)
    assert response.status_code == 422, response.text
    locs = [tuple(error["loc"]) for error in response.json()["detail"]]
    assert sorted(locs) == sorted([("body", "colour"), ("body", "budget", "candidates"), ("body", "task", "seeds"),
                                   ("body", "controller", "params", "population")]), locs
