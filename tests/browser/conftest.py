"""A real ``actsearch serve`` process and Debian's Chromium driven by Playwright, one per module.

Playwright's own browser download needs the network; the Debian package does not (.ci/run
installs it). Without it the browser tests are skipped with that reason.
"""

from __future__ import annotations

import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

CHROMIUM = os.environ.get("ACTSEARCH_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
# Screenshots land here; ACTSEARCH_SCREENSHOTS=docs/screenshots refreshes the documentation's.
SCREENSHOTS = os.environ.get("ACTSEARCH_SCREENSHOTS")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    process: subprocess.Popen[str]
    base: str = ""
    token: str = ""
    output: list[str] = field(default_factory=list)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # the runner releases its job, uvicorn shuts down
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def start_server(db: Path, timeout: float = 90, *, runner: bool = True) -> Server:
    """``runner=False``: serve only (``--no-runner``): submitted jobs stay queued, nothing trains."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "cli", "serve", "--port", str(port), "--db", f"sqlite:///{db}",
         "--executor", "local", "--log-level", "warning", *(() if runner else ("--no-runner",))],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=Path(__file__).resolve().parents[2])
    server = Server(process)
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            server.output.append(line)
            lines.put(line)

    threading.Thread(target=read, daemon=True).start()
    deadline = time.monotonic() + timeout
    try:
        while not server.token:
            if time.monotonic() > deadline or process.poll() is not None:
                raise AssertionError(f"actsearch serve printed no token URL: {''.join(server.output)}")
            try:
                match = re.search(r"(http://127\.0\.0\.1:\d+)/\?token=(\S+)", lines.get(timeout=0.2))
            except queue.Empty:
                continue
            if match:
                server.base, server.token = match.groups()
        while True:
            try:
                if httpx.get(f"{server.base}/api/v1/healthz", timeout=2).status_code == 200:
                    return server
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise AssertionError(f"actsearch serve is not healthy: {''.join(server.output)}")
            time.sleep(0.1)
    except BaseException:
        server.stop()
        raise


LAPTOP = {"width": 1280, "height": 860}


@contextmanager
def signed_in(browser: Any, server: Server, **options: Any) -> Iterator[Any]:
    """A page of a fresh browser profile (``options``: the context's, e.g. a viewport), signed in
    through the printed URL; once the test is done, fails on any uncaught page error and on any
    request to another origin (the dashboard must work offline)."""
    context = browser.new_context(**{"viewport": LAPTOP, **options})
    requested: list[str] = []
    errors: list[str] = []
    context.on("request", lambda request: requested.append(request.url))
    page = context.new_page()
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.set_default_timeout(20_000)
    page.goto(f"{server.base}/?token={server.token}")
    page.wait_for_selector("table.jobs")
    yield page
    context.close()
    assert not errors, errors
    elsewhere = [url for url in requested if url.startswith("http") and not url.startswith(server.base + "/")]
    assert not elsewhere, elsewhere


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_server(tmp_path_factory.mktemp("serve") / "dashboard.db")
    yield running
    running.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = Path(SCREENSHOTS) if SCREENSHOTS else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path
