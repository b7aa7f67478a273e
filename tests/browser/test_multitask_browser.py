"""Issue 16 in the dashboard: the new-job form builds a job scored on several tasks (weights,
hurdles, the aggregate, the baselines) and places the API's 422 for a task's field next to it;
the leaderboard marks the baselines and shows each row against them with the transfer verdict;
a candidate shows its verdict task by task and, in a multi-task job, its combined scores.

One server over a store filled here (stored results, nothing trains: it serves without a runner,
so a job submitted from the form stays queued).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import update

import store
from tests.api.conftest import add_candidate
from tests.api.test_api_baselines import DEEP, store_job
from tests.browser.conftest import Server, signed_in, start_server
from worker.spec import JobSpec

ROWS = "table.leaderboard tbody tr[data-candidate]"
TASKS = ("mnist1d-mlp", "digits-cnn")


def multi_task_job(database: store.Database) -> dict[str, int]:
    """A job scored on two tasks (min of the normalised scores): Mish and the baselines with
    each task's own evaluations (phase part) and their combined search scores."""
    spec = JobSpec.from_json({"name": "two tasks", "controller": {"kind": "random"}, "aggregate": "min",
                              "tasks": [{"name": TASKS[0], "steps": 20, "hurdle": -0.1},
                                        {"name": TASKS[1], "steps": 20}],
                              "budget": {"candidates": 4}, "confirm": {"top_k": 1}}).to_json()
    texts = {"relu(x)": (0.78, 0.95), "x*sigmoid(x)": (0.79, 0.94), "x * tanh(softplus(x))": (0.83, 0.96)}
    with database.session() as session:
        job = store.create_job(session=session, name="two tasks", owner="admin", spec=spec)
        ids = {text: add_candidate(session, job.id, text).id for text in texts}
        store.save_progress(session=session, job_id=job.id, summary={"baselines": [
            {"name": "ReLU", "expression": "relu(x)", "candidate_id": ids["relu(x)"]},
            {"name": "SiLU", "expression": "x*sigmoid(x)", "candidate_id": ids["x*sigmoid(x)"]}]})
    references = [sum(f[i] for text, f in texts.items() if text != "x * tanh(softplus(x))") / 2 for i in range(2)]
    for text, fitnesses in texts.items():
        scores = {f"score_{task}": (f - b) / abs(b) for task, f, b in zip(TASKS, fitnesses, references, strict=True)}
        rows: list[tuple[str, int, str, float, dict[str, float]]] = [
            (task, 0, "part", f, {}) for task, f in zip(TASKS, fitnesses, strict=True)]
        rows.append((store.COMBINED, -1, "search", min(scores.values()), scores))
        for task, seed, phase, fitness, metrics in rows:
            with database.session() as session:
                evaluation, _ = store.add_evaluation(session=session, candidate_id=ids[text], task=task, seed=seed,
                                                     steps=20, phase=phase)
                store.finish_evaluation(session=session, evaluation_id=evaluation.id, status="ok", fitness=fitness,
                                        metrics=metrics, wall_time=None if task == store.COMBINED else 0.5,
                                        worker="test")
    return {"job": job.id, "mish": ids["x * tanh(softplus(x))"]}


def fill(url: str) -> dict[str, Any]:
    database = store.connect(url)
    one = store_job(database, owner="admin")
    two = multi_task_job(database)
    with database.session() as session:  # finished: the pages show them as they are, no stream
        session.execute(update(store.Job).where(store.Job.id.in_([one["job"], two["job"]])).values(
            status=store.JOB_COMPLETED, phase="confirm", started_at=store.utcnow(), finished_at=store.utcnow()))
    database.dispose()
    return {"one": one, "two": two}


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, dict[str, Any]]]:
    db = tmp_path_factory.mktemp("multitask") / "multitask.db"
    ids = fill(f"sqlite:///{db}")
    server = start_server(db, runner=False)
    yield server, ids
    server.stop()


@pytest.fixture
def tab(seeded: tuple[Server, dict[str, Any]], browser: Any) -> Iterator[Any]:
    server, _ = seeded
    with signed_in(browser, server) as page:
        yield page


def preview(tab: Any) -> dict[str, Any]:
    spec: dict[str, Any] = json.loads(tab.text_content("#spec-preview"))
    return spec


def test_the_form_builds_a_multi_task_job(seeded: tuple[Server, dict[str, Any]], tab: Any, shots: Path) -> None:
    server, _ = seeded
    tab.goto(f"{server.base}/#/new")
    tab.wait_for_selector("#submit-job")
    spec = preview(tab)  # the JobSpec's default fitness: two deep networks, by their min, against ReLU and SiLU
    assert [(t["name"], t.get("hurdle")) for t in spec["tasks"]] == [("mnist1d-deep-mlp", -0.25),
                                                                     ("mnist1d-resmlp", None)]
    assert spec["aggregate"] == "min" and spec["baselines"] == ["relu(x)", "x*sigmoid(x)"] and "task" not in spec
    tab.click("button[aria-label='Remove task 2']")  # one task: `task`, no weight, hurdle or aggregate
    spec = preview(tab)
    assert spec["task"]["name"] == "mnist1d-deep-mlp" and "tasks" not in spec and "aggregate" not in spec
    assert not tab.is_visible("#task-hurdle") and not tab.is_visible("#aggregate")
    tab.select_option("#task-name", "mnist1d-mlp")
    tab.fill("#budget-candidates", "4")

    tab.click("#add-task")  # a second task: the fields move to tasks.N and the weights, hurdles and aggregate show
    tab.wait_for_selector("#tasks-1-name")
    assert tab.locator("#tasks-1-name").evaluate("el => el === document.activeElement")
    assert tab.input_value("#tasks-1-name") == "mnist1d-deep-mlp"  # a task not listed yet
    tab.select_option("#tasks-1-name", "digits-cnn")
    tab.fill("#tasks-0-steps", "30")
    tab.fill("#tasks-0-hurdle", "-0.1")
    tab.fill("#tasks-1-weight", "2")
    tab.select_option("#aggregate", "mean")
    tab.select_option("#aggregate", "min")
    tab.fill("#baselines", "relu(x)\n\ngelu(x)\n")
    spec = preview(tab)
    assert "task" not in spec and spec["aggregate"] == "min" and spec["baselines"] == ["relu(x)", "gelu(x)"]
    assert [(t["name"], t.get("steps"), t["weight"], t.get("hurdle")) for t in spec["tasks"]] == [
        ("mnist1d-mlp", 30, 1, -0.1), ("digits-cnn", None, 2, None)]

    # The API's 422 for tasks[1].hurdle, next to the second task's hurdle
    tab.fill("#tasks-1-hurdle", "0.5")
    tab.click("#submit-job")
    error = tab.locator("#err-tasks-1-hurdle")
    error.wait_for(state="visible")
    assert "the last task has no later task to hold back" in error.text_content()
    assert tab.get_attribute("#tasks-1-hurdle", "aria-invalid") == "true"
    assert tab.is_hidden("#err-tasks-0-hurdle")
    tab.screenshot(path=str(shots / "new-job-tasks.png"), full_page=True)

    tab.fill("#tasks-1-hurdle", "")
    assert preview(tab)["confirm"]["tasks"] == []  # no transfer check unless asked for
    tab.check("#confirm-task-mnist1d-mlp")  # the confirm phase's transfer check
    assert preview(tab)["confirm"]["tasks"] == ["mnist1d-mlp"]
    assert tab.locator("#confirm-task-npz").count() == 0  # needs a data path: not offered
    tab.click("#submit-job")
    tab.wait_for_url("**/#/jobs/*")
    job_id = int(tab.url.rsplit("/", 1)[1])
    job = httpx.get(f"{server.base}/api/v1/jobs/{job_id}", headers={"Authorization": f"Bearer {server.token}"},
                    timeout=30).json()
    assert job["spec"]["aggregate"] == "min" and [t["name"] for t in job["spec"]["tasks"]] == list(TASKS)
    assert job["spec"]["tasks"][0]["hurdle"] == -0.1 and job["spec"]["baselines"] == ["relu(x)", "gelu(x)"]
    assert job["spec"]["confirm"]["tasks"] == ["mnist1d-mlp"]
    tab.wait_for_selector("#spec .spec-block h3:text('Task 2 of 2')")


def test_removing_a_task_moves_the_fields_back(seeded: tuple[Server, dict[str, Any]], tab: Any) -> None:
    server, _ = seeded
    tab.goto(f"{server.base}/#/new")
    tab.wait_for_selector("#submit-job")
    tab.click("#add-task")  # a third beside the two default ones
    tab.fill("#tasks-2-steps", "7")
    tab.click("button[aria-label='Remove task 1']")
    assert [t.get("steps") for t in preview(tab)["tasks"]] == [None, 7]  # the third became the second
    assert tab.is_visible("#tasks-1-steps")
    tab.click("button[aria-label='Remove task 1']")
    spec = preview(tab)
    assert "tasks" not in spec and "aggregate" not in spec and spec["task"]["steps"] == 7
    assert tab.input_value("#task-steps") == "7"
    tab.fill("#baselines", "")
    assert preview(tab)["baselines"] == []  # none


def test_the_leaderboard_marks_the_baselines_and_compares_with_them(seeded: tuple[Server, dict[str, Any]],
                                                                   tab: Any, shots: Path) -> None:
    server, ids = seeded
    one = ids["one"]
    tab.goto(f"{server.base}/#/jobs/{one['job']}")
    tab.wait_for_selector(ROWS)
    assert tab.locator(ROWS).count() == 5
    headers = tab.locator("table.leaderboard thead th").all_inner_texts()
    assert "VS BASELINES" in [h.upper() for h in headers] and "TRANSFER" in [h.upper() for h in headers]
    badges = tab.locator(f"{ROWS} .badge.baseline").all_inner_texts()
    assert badges == ["baseline · SiLU", "baseline · ReLU"]  # SiLU ranks above ReLU
    top = tab.locator(f"tr[data-candidate='{one['x + x^2']}']")
    assert top.locator(".relative li").all_inner_texts() == ["+0.08 ± 0.013 over ReLU", "+0.07 ± 0.0082 over SiLU"]
    verdict = top.locator(".verdict")
    assert verdict.inner_text() == f"✗ fails on {DEEP}"
    assert "2 of 3 seeds did not train (nonfinite_loss)" in (verdict.get_attribute("title") or "")
    mish = tab.locator(f"tr[data-candidate='{one['x * tanh(softplus(x))']}']")
    assert mish.locator(".verdict").inner_text() == "✓ transfers"
    behind = tab.locator(f"tr[data-candidate='{one['sin(x) + x']}'] .relative li.behind").all_inner_texts()
    assert behind == ["-0.08 vs ReLU", "-0.09 vs SiLU"]  # search fitnesses: no spread
    assert "ReLU, SiLU" in tab.inner_text(".stats")
    assert "3 / 10 candidates" in tab.inner_text(".stats")  # the baselines are not the search's
    tab.screenshot(path=str(shots / "job-baselines.png"), full_page=True)


def test_a_candidate_shows_its_verdict_table(seeded: tuple[Server, dict[str, Any]], tab: Any, shots: Path) -> None:
    server, ids = seeded
    one = ids["one"]
    tab.goto(f"{server.base}/#/candidates/{one['x + x^2']}")
    tab.wait_for_selector("#verdict table")
    assert tab.locator("#verdict thead th").all_inner_texts()[2:4] == ["ReLU", "SiLU"]
    deep = tab.locator(f"#verdict tr[data-task='{DEEP}']")
    cells = deep.locator("td").all_inner_texts()
    assert cells[0].startswith("0.5") and "1 of 3 seeds: nonfinite_loss" in cells[0]
    assert cells[1].startswith("0.72 ± 0.01") and "3 of 3 seeds" in cells[1]
    assert cells[3] == "✗ 2 of 3 seeds did not train (nonfinite_loss)"
    assert tab.locator("#verdict tr[data-task='mnist1d-mlp'] td.why").inner_text() == "✓ transfers"
    assert f"fails on {DEEP}" in tab.inner_text("#verdict .summary")
    assert "+0.08 ± 0.013 over ReLU" in tab.inner_text(".summary")
    assert "verdict" not in tab.inner_text("#properties table")  # in its own panel, not as JSON
    tab.screenshot(path=str(shots / "candidate-verdict.png"), full_page=True)
    tab.goto(f"{server.base}/#/candidates/{one['relu(x)']}")
    tab.wait_for_selector("#export")
    assert tab.inner_text(".summary .badge.baseline") == "baseline · ReLU" and tab.locator("#verdict").count() == 0


def test_a_multi_task_candidate_shows_its_combined_scores(seeded: tuple[Server, dict[str, Any]], tab: Any) -> None:
    server, ids = seeded
    tab.goto(f"{server.base}/#/candidates/{ids['two']['mish']}")
    tab.wait_for_selector("table.evaluations tbody tr")
    combined = tab.locator("table.evaluations tr.combined")
    assert combined.count() == 1
    cells = combined.locator("td").all_inner_texts()
    assert cells[0] == "combined score" and cells[1] == "—"
    assert "mnist1d-mlp: +0.05732" in cells[6] and "digits-cnn: +0.01587" in cells[6]
    assert "combined score" in tab.inner_text(".summary")
    parts = tab.locator("table.evaluations tbody tr:not(.combined) td:first-child").all_inner_texts()
    assert sorted(parts) == sorted(TASKS)
