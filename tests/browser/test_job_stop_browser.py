"""Why a job stopped, in the dashboard (issue 18: a job that ran out of its space read "completed
3 / 100,000" with an empty bar, the reason only in the event stream)."""

from __future__ import annotations

import time
from typing import Any

import httpx

from tests.browser.conftest import Server

SMALL = {"name": "tiny-space", "space": {"unary": ["x", "sigmoid"], "binary": ["mul"], "units": 1},
         "controller": {"kind": "exhaustive"}, "task": {"name": "mnist1d-mlp", "steps": 20},
         "budget": {"candidates": 1000}, "confirm": {"top_k": 1, "seeds": 1}}


def test_the_job_page_and_the_list_say_the_space_ran_out(server: Server, browser: Any) -> None:
    headers = {"Authorization": f"Bearer {server.token}"}
    submitted = httpx.post(f"{server.base}/api/v1/jobs", json=SMALL, headers=headers, timeout=60)
    assert submitted.status_code == 202 and submitted.json()["warnings"], submitted.text
    job_id = submitted.json()["id"]
    deadline = time.monotonic() + 240
    while (job := httpx.get(f"{server.base}/api/v1/jobs/{job_id}", headers=headers).json())["status"] != "completed":
        assert time.monotonic() < deadline and job["status"] in ("queued", "running"), job
        time.sleep(0.5)
    assert job["stop_reason"] == "exhausted"

    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(20_000)
    try:
        page.goto(f"{server.base}/?token={server.token}")
        row = page.locator(f"tr[data-job='{job_id}']")
        row.wait_for()
        assert "completed · space exhausted" in row.inner_text()
        page.goto(f"{server.base}/#/jobs/{job_id}")
        page.wait_for_selector("text=Stopped by")
        assert page.locator(".badge", has_text="completed · space exhausted").count() == 1
        stopped = page.locator("dt", has_text="Stopped by").locator("xpath=following-sibling::dd")
        assert stopped.inner_text() == "space exhausted"
    finally:
        context.close()
