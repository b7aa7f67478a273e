"""The dashboard in Chromium against ``actsearch serve``: sign in with the printed token, submit a
job from the form, watch its leaderboard fill live, inspect and export a candidate, compare.

One server and one browser for the module; the journey test runs a real (tiny) search.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from space import Space
from tests.browser.conftest import LAPTOP, Server, signed_in

PHONE = {"width": 390, "height": 844}
UNARY, BINARY = ["x", "sigmoid", "tanh", "sin", "relu"], ["add", "mul", "max"]
ROWS = "table.leaderboard tbody tr[data-candidate]"


@pytest.fixture
def page(server: Server, browser: Any) -> Iterator[Any]:
    """A signed-in page of a fresh browser profile (:func:`signed_in`) that may download files."""
    with signed_in(browser, server, accept_downloads=True) as tab:
        yield tab


def api(server: Server, method: str, path: str, **kwargs: Any) -> Any:
    response = httpx.request(method, f"{server.base}/api/v1{path}", headers={"Authorization": f"Bearer {server.token}"},
                             timeout=30, **kwargs)
    response.raise_for_status()
    return response.json()


def test_a_user_submits_a_job_and_follows_it_live(server: Server, page: Any, shots: Path) -> None:
    assert "token" not in page.url  # taken out of the address bar and the history
    assert page.evaluate("localStorage.getItem('actsearch.token')") == server.token

    # The form: operators, controller, task, budget; the space's size is shown as it changes.
    page.click("nav >> text=New job")
    page.fill("#name", "browser-journey")
    page.click("button[aria-label='Clear the unary operators']")
    page.click("button[aria-label='Clear the binary operators']")
    for name in UNARY + BINARY:
        page.check(f"#op-{name}")
    size = Space(unary=tuple(UNARY), binary=tuple(BINARY)).count()
    page.wait_for_function("n => document.querySelector('#space-count').textContent.startsWith(n)", arg=f"{size} ")
    page.select_option("#controller-kind", "random")
    # the default fitness is two deep networks; this journey trains the shallow one alone, fast
    page.click("button[aria-label='Remove task 2']")
    page.select_option("#task-name", "mnist1d-mlp")
    page.fill("#task-steps", "30")
    page.select_option("#task-precision", "bf16")  # the JobSpec preview follows the form
    assert json.loads(page.text_content("#spec-preview"))["task"]["precision"] == "bf16"
    page.select_option("#task-precision", "fp32")
    page.fill("#confirm-top_k", "1")
    page.fill("#confirm-seeds", "2")
    page.screenshot(path=shots / "new-job.png", full_page=True)

    # The API's 422 appears next to the field it names.
    page.fill("#budget-candidates", "0")
    page.click("#submit-job")
    error = page.locator("#err-budget-candidates")
    error.wait_for(state="visible")
    assert "must be an integer in [1, 100000]" in error.text_content()
    assert page.get_attribute("#budget-candidates", "aria-invalid") == "true"

    page.fill("#budget-candidates", "6")
    page.click("#submit-job")
    page.wait_for_url(re.compile(r".*#/jobs/\d+$"))
    job_id = int(page.url.rsplit("/", 1)[1])
    # Sampled in the page: a reload would lose these, and they show the table changing.
    page.evaluate(f"""() => {{ window.samples = [];
        setInterval(() => samples.push(document.querySelectorAll("{ROWS}:not(.result-pending)").length), 100); }}""")
    page.wait_for_selector("#live-state[data-state=ended]", timeout=90_000)
    job = api(server, "GET", f"/jobs/{job_id}")
    # the baselines (ReLU and SiLU by default) rank beside the 6 candidates; one the search also found is stored once
    rows = api(server, "GET", f"/jobs/{job_id}/leaderboard")["count"]
    assert 6 <= rows <= 6 + len(job["spec"]["baselines"])
    page.wait_for_function(f"() => document.querySelectorAll('{ROWS}').length === {rows}")
    samples = page.evaluate("samples")
    assert len(set(samples)) >= 2 and samples == sorted(samples), samples  # rows filled in, without a reload
    assert int(page.get_attribute("main", "data-events")) >= 6  # from the event stream
    # progress counts the search's candidates, not the baselines beside them
    assert job["status"] == "completed" and job["progress"]["candidates_done"] == 6, job["progress"]
    page.wait_for_function(f"() => document.querySelectorAll('{ROWS} math').length === {rows}")
    page.wait_for_selector("#functions svg polyline")
    page.wait_for_selector("#trace svg polyline")
    assert page.locator("#operators .bars li").count() > 0
    assert "completed" in page.text_content(".page-head")
    page.screenshot(path=shots / "job.png", full_page=True)

    # A candidate: plots, evaluations, and its code as a download.
    page.click(f"{ROWS}:first-child th a")
    page.wait_for_selector("#export")
    page.wait_for_selector("#plot svg polyline")
    assert page.locator("#evaluations tbody tr").count() >= 1
    with page.expect_download() as download:
        page.click("button[aria-label='Download PyTorch module']")
    source = Path(download.value.path()).read_text()
    assert re.fullmatch(r"candidate_\d+\.py", download.value.suggested_filename)
    assert "import torch" in source and "class Activation" in source
    page.click("button[aria-label='Show LaTeX']")
    page.wait_for_function("() => document.querySelector('#export-preview').textContent.includes('\\\\')")
    page.click("button[aria-label^='Compare candidate']")
    page.screenshot(path=shots / "candidate.png", full_page=True)

    # Compare: the candidate picked above, and two more from the job's leaderboard.
    page.click("nav >> text=Compare")
    page.wait_for_selector("table.compare tbody tr")
    page.select_option("#compare-job", str(job_id))
    boxes = page.locator(".pick-list input[type=checkbox]")
    boxes.first.wait_for()
    for i in range(3):
        if not boxes.nth(i).is_checked():
            boxes.nth(i).check()
    page.wait_for_function("() => document.querySelectorAll('table.compare tbody tr').length === 3")
    page.wait_for_selector("#compare-functions svg polyline")
    page.wait_for_selector("#compare-fitness svg circle")
    assert re.search(r"#/compare\?ids=\d+,\d+,\d+$", page.url)
    page.screenshot(path=shots / "compare.png", full_page=True)

    # Jobs: filtered by status and name.
    page.click("nav >> text=Jobs")
    page.select_option("#filter-status", "completed")
    page.fill("#filter-name", "journey")
    page.wait_for_function(f"() => document.querySelector('table.jobs tbody tr[data-job=\"{job_id}\"]')")
    page.fill("#filter-name", "no such job")
    page.wait_for_selector("table.jobs td.empty")
    page.fill("#filter-name", "")
    page.select_option("#filter-status", "")
    page.wait_for_selector(f"table.jobs tbody tr[data-job='{job_id}']")
    page.screenshot(path=shots / "jobs.png", full_page=True)


@pytest.fixture(scope="module")
def finished_job(server: Server) -> tuple[int, int]:
    """A finished job and its best candidate: the journey's when it ran first, else a tiny one."""
    jobs = api(server, "GET", "/jobs", params={"status": "completed"})["data"]
    if not jobs:
        spec = {"name": "tiny", "controller": {"kind": "random"}, "task": {"steps": 10},
                "space": {"unary": UNARY, "binary": BINARY}, "budget": {"candidates": 2}, "confirm": {"top_k": 0}}
        job_id = api(server, "POST", "/jobs", json=spec)["id"]
        deadline = time.monotonic() + 90
        while api(server, "GET", f"/jobs/{job_id}")["status"] in ("queued", "running"):
            assert time.monotonic() < deadline, "the tiny job did not finish"
            time.sleep(0.5)
        jobs = [api(server, "GET", f"/jobs/{job_id}")]
    board = api(server, "GET", f"/jobs/{jobs[0]['id']}/leaderboard")
    return jobs[0]["id"], board["data"][0]["candidate_id"]


def pages(finished_job: tuple[int, int]) -> list[str]:
    job_id, candidate_id = finished_job
    return ["#/jobs", "#/new", f"#/jobs/{job_id}", f"#/candidates/{candidate_id}", f"#/compare?ids={candidate_id}"]


# what shows that a page has loaded, by route prefix (the longer prefix first)
READY = {"#/jobs/": "#leaderboard tbody tr", "#/jobs": "table.jobs tbody tr", "#/new": "#submit-job",
         "#/candidates/": "#export", "#/compare": "table.compare tbody tr"}


def open_page(page: Any, base: str, route: str) -> None:
    page.goto(f"{base}/{route}")
    page.wait_for_selector(next(selector for prefix, selector in READY.items() if route.startswith(prefix)))


def test_every_page_fits_a_phone(server: Server, page: Any, finished_job: tuple[int, int], shots: Path) -> None:
    page.set_viewport_size(PHONE)
    for route in pages(finished_job):
        open_page(page, server.base, route)
        width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert width[0] <= width[1], (route, width)  # wide tables scroll inside their box
    open_page(page, server.base, f"#/jobs/{finished_job[0]}")
    page.screenshot(path=shots / "job-phone.png")


def test_every_control_has_an_accessible_name(server: Server, page: Any, finished_job: tuple[int, int]) -> None:
    unnamed = """() => [...document.querySelectorAll('main input, main select, main textarea, main button, main a')]
        .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                      && !el.getAttribute('aria-labelledby') && !el.textContent.trim())
        .map(el => el.outerHTML.slice(0, 120))"""
    for route in pages(finished_job):
        open_page(page, server.base, route)
        assert page.evaluate(unnamed) == [], route
        assert page.evaluate("() => [...document.querySelectorAll('main table')].every(t => t.querySelector('th'))")


def test_sign_in_with_a_token_and_out(server: Server, browser: Any) -> None:
    context = browser.new_context(viewport=LAPTOP)
    try:
        tab = context.new_page()
        tab.goto(f"{server.base}/")
        tab.fill("#token", "not-a-token")
        tab.click("form.login button[type=submit]")
        tab.wait_for_function("() => document.querySelector('#login-error').textContent.includes('not accepted')")
        tab.fill("#token", server.token)
        tab.click("form.login button[type=submit]")
        tab.wait_for_selector("table.jobs")
        tab.reload()
        tab.wait_for_selector("table.jobs")  # the token is remembered
        tab.click("#sign-out")
        tab.wait_for_selector("#token")
        assert tab.evaluate("localStorage.getItem('actsearch.token')") is None
    finally:
        context.close()


def test_math_renders_every_operator_and_the_stream_parser_reassembles_chunks(server: Server, page: Any) -> None:
    rendered = page.evaluate("""async () => {
        const { renderMath, fillTemplate } = await import('/static/js/latex.js');
        const { api } = await import('/static/js/api.js');
        const ops = await api('/operators');
        const cases = ops.map(op => fillTemplate(op.latex, op.arity === 1 ? ['x'] : ['x_{1}', 'x_{2}']));
        cases.push('1.5 \\\\cdot 10^{-3} x', '\\\\beta_{2} x^{2}', '\\\\frac{x}{1 + e^{-x}}', '\\\\unknown{x}');
        return cases.map(latex => [latex, renderMath(latex, 'fallback').tagName.toLowerCase()]);
    }""")
    assert rendered[-1] == ["\\unknown{x}", "code"]  # outside the subset: the plain text instead
    assert [latex for latex, tag in rendered[:-1] if tag != "math"] == []
    events = page.evaluate("""async () => {
        const { EventParser } = await import('/static/js/sse.js');
        const parser = new EventParser();
        return [...parser.push('retry: 2000\\n\\nid: 1\\nevent: status\\ndata: {"a":1}\\n\\n: keep-alive\\n\\nid: 2\\nev'),
                ...parser.push('ent: phase\\r\\ndata: 1\\ndata: 2\\n'), ...parser.push('\\n')];
    }""")
    assert events == [{"event": "status", "data": '{"a":1}', "id": "1"}, {"event": "phase", "data": "1\n2", "id": "2"}]


def test_the_event_stream_resumes_after_the_last_event_id(server: Server, page: Any,
                                                          finished_job: tuple[int, int]) -> None:
    job_id = finished_job[0]
    result = page.evaluate("""async jobId => {
        const { followEvents } = await import('/static/js/sse.js');
        const read = after => new Promise(resolve => {
            const ids = [];
            followEvents(`/jobs/${jobId}/events`, { lastEventId: after, onEvent: (kind, data, id) => ids.push(Number(id)),
                onState: state => { if (state === 'ended') resolve(ids); } });
        });
        const all = await read(null);
        return [all, await read(all[1])];
    }""", job_id)
    every, resumed = result
    assert len(every) >= 3 and every == sorted(every)
    assert resumed == every[2:]  # Last-Event-ID: only what came after it


def test_cancel_a_running_job(server: Server, page: Any) -> None:
    # long enough that it cannot finish first: on a quiet machine the small space was exhausted
    # (and the job completed) before the cancel arrived
    spec = {"name": "to-cancel", "controller": {"kind": "random"}, "task": {"steps": 3000},
            "space": {"unary": UNARY, "binary": BINARY}, "budget": {"candidates": 1000, "in_flight": 2}}
    job_id = api(server, "POST", "/jobs", json=spec)["id"]
    page.goto(f"{server.base}/#/jobs/{job_id}")
    page.wait_for_selector(f"{ROWS}:not(.result-pending)", timeout=60_000)  # running, events arriving
    page.click("#cancel-job")
    assert page.text_content("#cancel-job") == "Click again to cancel"  # no modal dialog, two clicks
    page.click("#cancel-job")
    page.wait_for_selector(".page-head .status-cancelled", timeout=60_000)
    assert api(server, "GET", f"/jobs/{job_id}")["status"] == "cancelled"
