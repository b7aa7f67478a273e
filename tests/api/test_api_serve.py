"""``actsearch serve --no-runner`` as a user starts it: the printed token URL, then /healthz."""

from __future__ import annotations

import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

ACTSEARCH = shutil.which("actsearch") or str(Path(sys.executable).parent / "actsearch")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Served:
    def __init__(self, db: str, *extra: str, runner: bool = False) -> None:
        self.port = free_port()
        # with a runner: evaluations in threads of the server (no Ray start-up in the test)
        mode = ["--executor", "local"] if runner else ["--no-runner"]
        self.process = subprocess.Popen(
            [ACTSEARCH, "serve", *mode, "--port", str(self.port), "--db", db, "--log-level", "warning", *extra],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)

    def wait_for(self, pattern: str, timeout: float = 60) -> re.Match[str]:
        deadline, seen = time.monotonic() + timeout, []
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.2)
            except queue.Empty:
                continue
            seen.append(line)
            match = re.search(pattern, line)
            if match:
                return match
        raise AssertionError(f"no line matching {pattern!r} in {''.join(seen)!r}")

    def healthy(self, timeout: float = 60) -> httpx.Response:
        deadline = time.monotonic() + timeout
        while True:
            try:
                return httpx.get(f"http://127.0.0.1:{self.port}/api/v1/healthz", timeout=2)
            except httpx.TransportError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise
                time.sleep(0.1)

    def stop(self) -> int:
        self.process.send_signal(signal.SIGINT)
        return self.process.wait(timeout=30)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[str]:
    yield f"sqlite:///{tmp_path / 'serve.db'}"


def test_serve_prints_a_token_url_on_first_start_only(db: str) -> None:
    served = Served(db)
    try:
        match = served.wait_for(r"(http://127\.0\.0\.1:\d+)/\?token=(\S+)")
        assert match.group(1) == f"http://127.0.0.1:{served.port}"
        assert served.healthy().json() == {"status": "ok", "database": "sqlite"}
        token = match.group(2)
        jobs = httpx.get(f"{match.group(1)}/api/v1/jobs", headers={"Authorization": f"Bearer {token}"})
        assert jobs.status_code == 200 and jobs.json() == {"data": [], "count": 0}
    finally:
        assert served.stop() == 0
    again = Served(db)
    try:
        again.wait_for(r"Create a token with: actsearch token create --name NAME")
        assert again.healthy().status_code == 200
    finally:
        assert again.stop() == 0


def test_several_api_processes_share_the_port_and_the_store(db: str) -> None:
    import psutil

    served = Served(db, "--processes", "2")
    try:
        token = served.wait_for(r"/\?token=(\S+)").group(1)
        assert served.healthy().status_code == 200
        headers = {"Authorization": f"Bearer {token}"}
        base = f"http://127.0.0.1:{served.port}/api/v1"
        created = httpx.post(f"{base}/jobs", json={"name": "p", "budget": {"candidates": 5}}, headers=headers,
                             timeout=120)
        assert created.status_code == 202
        # every process sees the job, whichever answers (fresh connections spread over them)
        for _ in range(6):
            assert httpx.get(f"{base}/jobs/{created.json()['id']}", headers=headers).json()["status"] == "queued"
        children = psutil.Process(served.process.pid).children(recursive=True)
        assert len([c for c in children if "spawn_main" in " ".join(c.cmdline())]) == 2
    finally:
        assert served.stop() == 0


def test_several_api_processes_refuse_an_embedded_runner(db: str) -> None:
    done = subprocess.run([ACTSEARCH, "serve", "--processes", "2", "--db", db], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode != 0 and "--processes above 1 needs --no-runner" in done.stderr
