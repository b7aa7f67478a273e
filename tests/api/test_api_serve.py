"""``actsearch serve --no-runner`` as a user starts it: the printed token URL, then /healthz."""

from __future__ import annotations

import os
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

ROOT = Path(__file__).resolve().parents[2]
ACTSEARCH = shutil.which("actsearch") or str(Path(sys.executable).parent / "actsearch")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Served:
    def __init__(self, db: str | None, *extra: str, runner: bool = False, env: dict[str, str] | None = None,
                 cwd: Path | None = None) -> None:
        self.port = free_port()
        # with a runner: evaluations in threads of the server (no Ray start-up in the test)
        mode = ["--executor", "local"] if runner else ["--no-runner"]
        store = [] if db is None else ["--db", db]
        self.process = subprocess.Popen(
            [ACTSEARCH, "serve", *mode, "--port", str(self.port), *store, "--log-level", "warning", *extra],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=cwd)
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


def test_a_second_start_queues_no_demo_and_names_the_default_store_absolutely(tmp_path: Path) -> None:
    env = {**os.environ, "ACTSEARCH_HOME": str(tmp_path / "home")}
    env.pop("ACTSEARCH_DB", None)
    demo = str(ROOT / "examples" / "demo-search.json")
    served = Served(None, "--demo", demo, env=env, cwd=tmp_path)
    try:
        served.wait_for(r"Demo search queued as job 1:")
        assert served.healthy().status_code == 200  # then SIGINT is a clean shutdown
    finally:
        assert served.stop() == 0
    again = Served(None, "--demo", demo, env=env, cwd=tmp_path)
    try:
        hint = again.wait_for(r"Create a token with: actsearch token create --name NAME --db (\S+)")
        assert hint.group(1) == f"sqlite:///{tmp_path / 'home' / 'actsearch.db'}"
        again.wait_for(r"Demo search: job 1, queued on an earlier start, is queued \(nothing new was queued\)")
        again.wait_for(r"actsearch watch 1 ")
        assert again.healthy().status_code == 200
    finally:
        assert again.stop() == 0
    assert not (tmp_path / "actsearch.db").exists()
