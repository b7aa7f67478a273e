"""The topology of docker-compose.yml as plain processes on this machine: a PostgreSQL server,
a Ray head (``ray start --head``) and a second Ray node (``ray start --address``), two runners
(``actsearch worker``) and the API (``actsearch serve --no-runner``). Two jobs are submitted
over HTTP; the second node is killed while it runs an evaluation, as a lost machine, and both jobs
must still complete with no evaluation lost or repeated."""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psutil
import pytest

import store
from api.client import Client
from tests.worker import jobs

ROOT = Path(__file__).parents[2]
RAY = str(Path(sys.executable).parent / "ray")
ACTSEARCH = [sys.executable, "-m", "cli"]
CANDIDATES = 8  # per job


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Processes:
    """Starts each process in its own session, so that stopping one kills its whole group (a
    Ray node's raylet and worker processes with it); whatever is left is killed at teardown."""

    def __init__(self, logs: Path, env: dict[str, str]) -> None:
        self.logs = logs
        self.env = env
        self.started: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, argv: list[str]) -> subprocess.Popen[bytes]:
        log = (self.logs / f"{name}.log").open("ab")
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=self.env, cwd=ROOT,
                                   start_new_session=True)
        self.started[name] = process
        return process

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")

    def wait_for_line(self, name: str, pattern: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not re.search(pattern, self.log(name)):
            if self.started[name].poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"{name} did not print {pattern!r}:\n{self.log(name)[-3000:]}")
            time.sleep(0.2)

    def descendants(self, name: str) -> list[psutil.Process]:
        try:
            return psutil.Process(self.started[name].pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []

    def kill(self, name: str) -> None:
        """SIGKILL to the process, its group and every descendant (Ray's worker processes
        start process groups of their own)."""
        process = self.started[name]
        descendants = self.descendants(name)
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        for child in descendants:
            with contextlib.suppress(psutil.NoSuchProcess):
                child.kill()
        process.wait(timeout=30)

    def kill_all(self) -> None:
        for name in reversed(list(self.started)):
            self.kill(name)


@pytest.fixture
def ray_temp_dir() -> Iterator[Path]:
    # Ray's unix sockets live under it, and a socket path may not exceed 107 bytes
    path = Path(tempfile.mkdtemp(prefix="ray-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def processes(tmp_path) -> Iterator[Processes]:
    env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        # Ray's token authentication, as a deployment should run it: one secret for every node
        # and every driver (docker-compose.yml passes RAY_AUTH_TOKEN to the same processes).
        "RAY_AUTH_MODE": "token",
        "RAY_AUTH_TOKEN": secrets.token_hex(32),
        # Notice the lost node within seconds rather than Ray's default of about half a minute.
        "RAY_health_check_period_ms": "1000",
        "RAY_health_check_failure_threshold": "3",
    }
    env.pop("RAY_ADDRESS", None)
    started = Processes(tmp_path, env)
    yield started
    started.kill_all()  # also when the test failed


def wait_until_healthy(base: str, processes: Processes, timeout: float) -> None:
    # "serving at" is printed before uvicorn binds its port: ask the port itself
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{base}/api/v1/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if processes.started["api"].poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"the API did not answer:\n{processes.log('api')[-3000:]}")
        time.sleep(0.2)


def ray_node_ports() -> list[str]:
    # Each node on one machine needs its own agent and metrics ports (the defaults are fixed).
    return [f"--dashboard-agent-listen-port={free_port()}", f"--dashboard-agent-grpc-port={free_port()}",
            f"--runtime-env-agent-port={free_port()}", f"--metrics-export-port={free_port()}",
            "--num-cpus=1", "--node-ip-address=127.0.0.1", "--block"]


def node_of(worker: str | None) -> str:
    """The Ray node id in an evaluation's ``worker`` (host:pid:node_id)."""
    assert worker and worker.count(":") == 2, worker
    return worker.rsplit(":", 1)[1]


def spec(name: str, seed: int) -> dict:
    return {
        "name": name, "space": jobs.SMALL_SPACE, "controller": {"kind": "random"},
        "task": {"name": "mnist1d-mlp", "seeds": 1, "steps": 100},
        # two candidates in flight per job: both runners keep both one-CPU nodes busy
        "budget": {"candidates": CANDIDATES, "in_flight": 2}, "confirm": {"top_k": 2, "seeds": 2}, "seed": seed,
        # no baselines: every candidate row is one the search proposed, CANDIDATES exactly (with
        # the default baselines the count depends on whether random search proposes them too)
        "baselines": [],
    }


def start_ray_node(processes: Processes, name: str, argv: list[str]) -> None:
    """Starts a Ray node and waits until it is up. Ray gives a node's raylet 30 s (hard-coded) to
    register with the GCS; on a loaded 2-core machine that ran out once in a clean-clone run
    ("timed out during startup"): a node that fails so gets one more try, anything else fails."""
    for attempt in range(2):
        processes.start(name, argv)
        try:
            processes.wait_for_line(name, "block forever", timeout=120)
            return
        except AssertionError:
            if attempt or "timed out during startup" not in processes.log(name):
                raise
            processes.kill(name)


def test_two_jobs_on_a_two_node_ray_cluster_survive_the_loss_of_a_node(postgres, processes, ray_temp_dir):
    url = str(postgres.create_schema())
    ray_port = free_port()
    start_ray_node(processes, "ray-head", [RAY, "start", "--head", f"--port={ray_port}", "--include-dashboard=false",
                                           f"--temp-dir={ray_temp_dir}", f"--ray-client-server-port={free_port()}",
                                           *ray_node_ports()])
    start_ray_node(processes, "ray-node", [RAY, "start", f"--address=127.0.0.1:{ray_port}", *ray_node_ports()])

    token = subprocess.run([*ACTSEARCH, "token", "create", "--db", url, "--name", "ops", "--admin"],
                           capture_output=True, text=True, check=True, cwd=ROOT).stdout.split()[0]
    api_port = free_port()
    processes.start("api", [*ACTSEARCH, "serve", "--no-runner", "--db", url, "--port", str(api_port)])
    for name in ("runner-1", "runner-2"):
        processes.start(name, [*ACTSEARCH, "worker", "--db", url, "--ray-address", f"127.0.0.1:{ray_port}",
                               "--eval-cpus", "1", "--lease", "10", "--log-format", "json"])
    wait_until_healthy(f"http://127.0.0.1:{api_port}", processes, timeout=120)

    database = store.connect(url)
    with Client(f"http://127.0.0.1:{api_port}", token) as client:
        # seeds of their own: the two jobs propose different functions
        ids = [client.submit(spec(name, seed))["id"] for seed, name in ((1, "cluster-a"), (2, "cluster-b"))]

        def finished(job_id: int) -> list[store.Evaluation]:
            return [e for e in jobs.rows(database, store.Evaluation, job_id) if e.finished_at is not None]

        # The kill waits for the first evaluation seen running on the second node, not for its
        # first result: a CI run on a loaded machine once had the second node finish one and then
        # never be seen at work again within 120 s, the jobs at their end.
        second_node_pids: set[int] = set()

        def second_node_evaluating() -> bool:
            workers = processes.descendants("ray-node")
            second_node_pids.update(process.pid for process in workers)
            if all(client.job(job_id)["status"] in store.JOB_FINISHED for job_id in ids):
                raise AssertionError(f"both jobs ended before an evaluation ran on the second node "
                                     f"({[len(finished(job_id)) for job_id in ids]} evaluations); the test proves nothing")
            return evaluating(workers)

        jobs.wait_for(second_node_evaluating, timeout=240, what="an evaluation running on the second node")
        killed_at = datetime.now(UTC).replace(tzinfo=None)  # the store keeps naive UTC
        running = [job_id for job_id in ids if client.job(job_id)["status"] == store.JOB_RUNNING]
        processes.kill("ray-node")  # a lost machine: raylet and its workers die at once
        assert running, "both jobs ended before the node was stopped; the test proves nothing"

        for job_id in ids:
            assert client.wait(job_id, timeout=300)["status"] == store.JOB_COMPLETED, (
                processes.log("runner-1")[-3000:] + processes.log("runner-2")[-3000:])
        for job_id in ids:
            jobs.assert_complete_and_exactly_once(database, job_id, CANDIDATES)
            evaluations = jobs.rows(database, store.Evaluation, job_id)
            # rejections are the evaluator's verdicts; a failure (worker_died) would be a loss
            assert not [(e.id, e.reason, e.detail) for e in evaluations if e.status == store.FAILED]
            assert len(client.leaderboard(job_id)["data"]) == CANDIDATES
        # (a result that was on its way when the node died is written a moment after the kill)
        after = [e for job_id in running for e in finished(job_id) if e.finished_at > killed_at + timedelta(seconds=3)]
        # ... and every later one on the head: one node, none of the second node's processes
        assert after and len({node_of(e.worker) for e in after}) == 1
        assert not [e.worker for e in after if pid_of(e.worker) in second_node_pids]
    for name in ("runner-1", "runner-2"):  # --log-format json: every line an object; job lines carry ids
        lines = [line for line in processes.log(name).splitlines() if line.strip()]
        assert not [line for line in lines if not line.startswith("{")], "lines that are not JSON"
        records = [json.loads(line) for line in lines]
        evaluations = [r for r in records if r["message"].startswith("evaluation ")]
        assert evaluations and all(r["job_id"] in ids and "candidate_id" in r for r in evaluations)
    database.dispose()


def evaluating(processes: list[psutil.Process]) -> bool:
    """Whether one of ``processes`` is a Ray worker running an evaluation batch (its title)."""
    for process in processes:
        with contextlib.suppress(psutil.Error):
            title = " ".join(process.cmdline())
            if title.startswith("ray::") and "evaluate" in title and "IDLE" not in title:
                return True
    return False


def pid_of(worker: str | None) -> int:
    """The process id in an evaluation's ``worker`` (host:pid:node_id)."""
    node_of(worker)  # the format
    return int(str(worker).split(":")[1])
