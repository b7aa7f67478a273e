"""Issue 18 in the dashboard: the leaderboard pages by cursor; elapsed and ETA stay live and say
what they mean (the confirm phase too); a candidate's numbers reconcile and never wrap, its Ray
node id is short; plot legends are MathML and say which β is drawn.

One server over a store filled here before it starts: a finished job of 45 candidates, and a
running one held by a runner that never beats (so nothing but the page makes its numbers move).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

import store
from tests.api.conftest import add_candidate
from tests.browser.conftest import LAPTOP, Server, signed_in, start_server
from worker.spec import JobSpec

NODE = "f3a9c0d2" + "7b" * 24  # a Ray node id: 56 hex digits
WORKER = f"gpu-node-3:41872:{NODE}"
BOARD = 45
PHONE = {"width": 390, "height": 844}
ROWS = "table.leaderboard tbody tr[data-candidate]"


def spec(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"name": "numbers", "controller": {"kind": "random"},
                            "task": {"name": "mnist1d-mlp", "steps": 600}, "budget": {"candidates": 100}}
    return JobSpec.from_json({**data, **changes}).to_json()


def fill(url: str) -> dict[str, int]:
    """The store the server starts on: a completed job (45 candidates, tied fitnesses, the best
    trained as one of a population of 6 on a Ray node) and a running job in its confirm phase."""
    database = store.connect(url)
    with database.session() as session:
        done = store.create_job(session=session, name="board", owner="admin", spec=spec())
        expressions = ["x * sigmoid(beta * x)", *(f"x * tanh({i} * x)" for i in range(2, BOARD + 1))]
        ids = [add_candidate(session, done.id, text).id for text in expressions]
    for i, candidate_id in enumerate(ids):
        with database.session() as session:
            evaluation, _ = store.add_evaluation(session=session, candidate_id=candidate_id, task="mnist1d-mlp",
                                                 seed=0, steps=600)
            store.finish_evaluation(  # the first 6 trained together: each stores 1/6 of 2.13 s
                session=session, evaluation_id=evaluation.id, status="ok", fitness=0.9 - 0.01 * (i // 3),
                metrics={"val_accuracy": 0.9123456, "val_loss": 0.31415926, "train_loss": 0.2718281,
                         "steps_per_second": 291.3, "steps_trained": 600.0},
                wall_time=0.355 if i < 6 else 1.25, worker=WORKER)
    with database.session() as session:
        session.execute(update(store.Job).where(store.Job.id == done.id).values(
            status=store.JOB_COMPLETED, phase="confirm", started_at=store.utcnow(), finished_at=store.utcnow()))
        running = store.create_job(session=session, name="confirming", owner="admin", spec=spec())
        session.execute(update(store.Job).where(store.Job.id == running.id).values(
            status=store.JOB_RUNNING, phase="confirm", elapsed_seconds=30.0, candidates_done=100,
            candidates_proposed=0, started_at=store.utcnow(), lease_owner="a-runner-elsewhere",
            lease_expires_at=store.utcnow() + timedelta(hours=1)))  # never claimed by this server's runner
        running_id = running.id
    database.dispose()
    return {"done": done.id, "best": ids[0], "running": running_id}


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, dict[str, int]]]:
    db = tmp_path_factory.mktemp("numbers") / "numbers.db"
    ids = fill(f"sqlite:///{db}")
    server = start_server(db)
    yield server, ids
    server.stop()


@pytest.fixture
def tab(seeded: tuple[Server, dict[str, int]], browser: Any) -> Iterator[Any]:
    server, _ = seeded
    with signed_in(browser, server) as page:
        yield page


def test_the_leaderboard_shows_more_by_cursor(seeded: tuple[Server, dict[str, int]], tab: Any) -> None:
    server, ids = seeded
    asked: list[str] = []
    tab.on("request", lambda request: asked.append(request.url) if "/leaderboard" in request.url else None)
    tab.goto(f"{server.base}/#/jobs/{ids['done']}")
    tab.wait_for_selector(ROWS)
    assert tab.locator(ROWS).count() == 20
    tab.click("#show-more")
    tab.wait_for_function(f"() => document.querySelectorAll('{ROWS}').length === 40")
    assert any("cursor=" in url for url in asked), asked
    tab.click("#show-more")
    tab.wait_for_function(f"() => document.querySelectorAll('{ROWS}').length === {BOARD}")
    assert tab.locator("#show-more").count() == 0  # the last page says it is the last
    ranks = [int(r) for r in tab.locator(f"{ROWS} td:first-child").all_inner_texts()]
    candidates = tab.eval_on_selector_all(ROWS, "rows => rows.map((r) => r.dataset.candidate)")
    assert ranks == list(range(1, BOARD + 1)) and len(set(candidates)) == BOARD
    assert f"{BOARD} of {BOARD} candidates" in tab.inner_text("#leaderboard .pager")


ETA_CASES = """async () => {
  const f = await import("/static/js/format.js");
  const job = (changes) => ({ status: "running", phase: "search", elapsed_seconds: 100,
    progress: { candidates_done: 50, candidates_budget: 100 },
    spec: { budget: { candidates: 100, seconds: null }, confirm: { top_k: 5 }, baselines: [] }, ...changes });
  const plain = job({ spec: { budget: {}, confirm: { top_k: 0 }, baselines: [] } });
  return {
    live: f.liveElapsed(job({}), 1000, 6000),
    frozen: f.liveElapsed(job({ status: "completed" }), 1000, 6000),
    search: f.etaText(job({})),
    searchLive: f.etaText(job({}), 120),
    noConfirm: f.etaText(plain),
    baselinesConfirm: f.etaText({ ...plain, spec: { ...plain.spec, baselines: ["relu(x)"] } }),
    timeBudget: f.etaText(job({ spec: { budget: { seconds: 130 }, confirm: { top_k: 5 } } })),
    searchDone: f.etaText(job({ progress: { candidates_done: 100, candidates_budget: 100 } })),
    confirming: f.etaText(job({ phase: "confirm", progress: { candidates_done: 100, candidates_budget: 100 } })),
    confirmCounted: f.etaText(job({ phase: "confirm", progress: { confirm_evaluations: 12, confirm_done: 0,
      confirm_eta_seconds: null } })),
    confirmEta: f.etaText(job({ phase: "confirm", progress: { confirm_evaluations: 12, confirm_done: 4,
      confirm_eta_seconds: 80 } })),
    confirmEtaLive: f.etaText(job({ phase: "confirm", progress: { confirm_evaluations: 12, confirm_done: 4,
      confirm_eta_seconds: 80 } }), 130),
    queued: f.etaText(job({ status: "queued" })),
    completed: f.etaText(job({ status: "completed" })),
  };
}"""


def test_elapsed_and_eta_logic(tab: Any) -> None:
    """The ETA is the search's and says a confirm phase follows; during the confirm phase it is the
    phase's own estimate and count (it read "0 s" while work went on), "confirming…" before one of
    its evaluations finished; elapsed counts on from when it was read while the job runs."""
    cases = tab.evaluate(ETA_CASES)
    assert cases["live"] == 105 and cases["frozen"] == 100
    assert cases["search"] == "1 min 40 s + confirm"  # 50 more candidates at 2 s each
    assert cases["searchLive"] == "2 min 0 s + confirm"  # the rate with the live elapsed time
    assert cases["noConfirm"] == "1 min 40 s" and cases["baselinesConfirm"] == "1 min 40 s + confirm"
    assert cases["timeBudget"] == "30 s + confirm"  # the time budget ends it sooner
    assert cases["searchDone"] == "finishing the search…"
    assert cases["confirming"] == "confirming…"
    assert cases["confirmCounted"] == "confirming… (confirm 0/12)"  # no rate before one finishes
    assert cases["confirmEta"] == "1 min 20 s (confirm 4/12)"
    assert cases["confirmEtaLive"] == "50 s (confirm 4/12)"  # counted down with the live elapsed time
    assert cases["queued"] == cases["completed"] == "—"


def test_a_running_jobs_elapsed_time_counts_on_without_events(seeded: tuple[Server, dict[str, int]],
                                                              tab: Any) -> None:
    server, ids = seeded
    row = tab.locator(f"tr[data-job='{ids['running']}']")  # the jobs list says so too
    row.wait_for()
    assert "confirming…" in row.inner_text()
    tab.goto(f"{server.base}/#/jobs/{ids['running']}")
    tab.wait_for_selector("#elapsed:not(:empty)")
    assert tab.inner_text("#eta") == "confirming…"
    first = tab.inner_text("#elapsed")
    assert re.fullmatch(r"3[0-9] s", first), first
    tab.wait_for_function("first => document.querySelector('#elapsed').textContent !== first", arg=first,
                          timeout=5_000)
    seconds = int(tab.inner_text("#elapsed").removesuffix(" s"))
    assert seconds > int(first.removesuffix(" s"))


def _wrapped(page: Any, selector: str) -> list[str]:
    """Texts of the elements matching ``selector`` that take more than one line: their boxes
    start at more than one height, or one box is taller than a line."""
    return page.eval_on_selector_all(selector, """els => els.filter((el) => {
        const rects = Array.from(el.getClientRects());
        const lines = new Set(rects.map((r) => Math.round(r.top)));
        return lines.size !== 1 || rects.some((r) => r.height > 1.6 * parseFloat(getComputedStyle(el).fontSize));
      }).map((el) => el.textContent)""")


@pytest.mark.parametrize("viewport", [LAPTOP, PHONE], ids=["laptop", "phone"])
def test_a_candidates_numbers_reconcile_and_stay_whole(seeded: tuple[Server, dict[str, int]], tab: Any,
                                                       viewport: dict[str, int], shots: Path) -> None:
    server, ids = seeded
    tab.set_viewport_size(viewport)
    tab.goto(f"{server.base}/#/candidates/{ids['best']}")
    tab.wait_for_selector("table.evaluations tbody tr")
    values = tab.locator("table.evaluations .metric, table.evaluations .value")
    assert values.count() == 6
    assert _wrapped(tab, "table.evaluations .metric, table.evaluations .value") == []
    assert "steps_per_second=291.3" in tab.inner_text("table.evaluations")
    # the wall time says what it is a share of, so 600 steps at 291.3/s (2.06 s) add up
    wall = tab.locator("table.evaluations td", has=tab.locator(".value"))
    assert "0.355 s" in wall.inner_text() and "1/6 of 2.13 s" in wall.inner_text()
    assert "share" in (tab.get_attribute("table.evaluations thead th[title]", "title") or "")
    # the node id is cut to 8 characters, the whole id in the title
    worker = tab.locator("table.evaluations .worker .id")
    assert worker.inner_text() == f"gpu-node-3:41872:{NODE[:8]}…" and worker.get_attribute("title") == WORKER
    tab.screenshot(path=str(shots / f"candidate-numbers-{viewport['width']}.png"), full_page=True)


def test_plot_legends_are_math_and_name_the_beta_drawn(seeded: tuple[Server, dict[str, int]], tab: Any) -> None:
    server, ids = seeded
    tab.goto(f"{server.base}/#/candidates/{ids['best']}")
    tab.wait_for_selector("#plot .legend li math")
    legends = tab.locator("#plot figure").count()
    assert legends == 2  # f and f′, each with its own copy of the label
    for index in range(legends):
        item = tab.locator("#plot figure").nth(index).locator(".legend li").first
        assert item.locator("math").count() == 2  # the function, and β's value, as in the tables
        text = re.sub(r"\s+", "", item.text_content())  # MathML's own text (shown in math italics)
        assert "β=1" in text, text
    tab.goto(f"{server.base}/#/jobs/{ids['done']}")
    tab.wait_for_selector("#functions .legend li math")
    top = tab.locator("#functions figure").first.locator(".legend li").first
    assert top.text_content().startswith("#1") and "β=1" in re.sub(r"\s+", "", top.text_content())
