"""The API documentation in Chromium with every request to another origin refused: Swagger UI
and ReDoc must render the operations from files this server serves (issue 18: the page was
blank offline, its scripts came from a CDN)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.conftest import Server


@pytest.fixture
def offline(server: Server, browser: Any) -> Iterator[tuple[Any, list[str]]]:
    """A page whose requests outside the server are aborted (and recorded), as with no network."""
    context = browser.new_context()
    blocked: list[str] = []

    def route(request_route: Any) -> None:
        url = request_route.request.url
        if url.startswith(server.base + "/") or not url.startswith("http"):
            request_route.continue_()
        else:
            blocked.append(url)
            request_route.abort()

    context.route("**/*", route)
    tab = context.new_page()
    tab.set_default_timeout(30_000)
    yield tab, blocked
    context.close()


def test_swagger_ui_lists_the_operations_offline(server: Server, offline: tuple[Any, list[str]]) -> None:
    page, blocked = offline
    page.goto(f"{server.base}/api/v1/docs")
    page.wait_for_selector(".opblock-summary-path")
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert "/api/v1/jobs" in {p.replace("\u200b", "").strip() for p in paths}, paths
    assert page.locator(".opblock").count() >= 15
    assert not blocked, blocked


def test_redoc_lists_the_operations_offline(server: Server, offline: tuple[Any, list[str]]) -> None:
    page, blocked = offline
    page.goto(f"{server.base}/api/v1/redoc")
    page.wait_for_selector('[data-section-id="operation/submit_job"]')  # ReDoc's section of an operation
    assert page.locator('[data-section-id^="operation/"]').count() >= 15
    assert page.get_by_text("/api/v1/jobs/{job_id}/cancel").count() >= 1
    assert not blocked, blocked
