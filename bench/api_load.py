"""API latency under load: a job with 100,000 candidates, 50 concurrent clients.

Fills a store (a SQLite file; also PostgreSQL with ``--pg-url``) through the store's models, starts
``actsearch serve --no-runner`` on loopback in a subprocess, and runs ``--concurrency`` clients
(keep-alive connections, see :func:`load`) for ``--seconds``, after ``--warm-up`` seconds unmeasured,
against each of: the leaderboard's first page (limit 50), a deep leaderboard page (a random position,
by cursor: how clients page), the same by offset (kept for old clients; it walks the rows it skips),
the job's status, job submission, and /healthz (the framework's floor). Prints a table, then the
JSON line ``{"sqlite": {"leaderboard": {"p50_ms", "p99_ms", "rps", ...}, ...}, ...}``.
Target: leaderboard p99 < 100 ms, the first page and a deep page by cursor.

    python bench/api_load.py [--candidates 100000] [--seconds 10] [--warm-up 2] [--concurrency 50] [--processes 1]
                            [--pg-url URL] [--scenarios leaderboard,leaderboard_deep,...]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import insert, select

import store
from api._cursor import encode_cursor

SPEC = {"name": "load", "controller": {"kind": "random"}, "task": {"name": "mnist1d-mlp", "steps": 20},
        "budget": {"candidates": 10}}
SCENARIOS = ["leaderboard", "leaderboard_deep", "leaderboard_deep_offset", "job_status", "submit", "healthz"]
ACTSEARCH = shutil.which("actsearch") or str(Path(sys.executable).parent / "actsearch")


def fill(url: str, count: int, seed: int = 0) -> tuple[int, str]:
    """A job with ``count`` candidates (the top 5 confirmed, like after a confirm phase), and a token."""
    database = store.connect(url)
    rng = random.Random(seed)
    with database.session() as session:
        job = store.create_job(session=session, name="load", owner="bench", spec=SPEC)
        job_id = job.id
        _, secret = store.create_token(session=session, name="bench", owner="bench")
    batch: list[dict[str, Any]] = []
    for number in range(1, count + 1):
        fitness = rng.random() if number % 10 else None  # some rejected: no fitness
        batch.append({"job_id": job_id, "number": number, "fingerprint": f"{number:016x}",
                      "expression": f"x * sigmoid({number} * x)", "expr_json": {"op": "x"}, "canonical": "x",
                      "latex": "x", "torch_source": "# bench", "properties": {"smooth": True, "df0": 0.5},
                      "status": "ok" if fitness is not None else "rejected", "fitness": fitness,
                      "fidelity": 20, "confirmed_seeds": 0})
        if len(batch) == 10_000 or number == count:
            with database.session() as session:
                session.execute(insert(store.Candidate), batch)
            batch = []
    with database.session() as session:
        top, _ = store.leaderboard(session=session, job_id=job_id, limit=5)
        for candidate in top:
            candidate.confirmed_mean, candidate.confirmed_std, candidate.confirmed_seeds = candidate.fitness, 0.01, 3
    database.dispose()
    return job_id, secret


def deep_cursors(url: str, job_id: int, count: int, seed: int = 0) -> list[str]:
    """Cursors of ``count`` random positions of the job's leaderboard (as a client paging there holds)."""
    database = store.connect(url)
    with database.session() as session:
        C = store.Candidate
        keys = session.execute(select(C.confirmed_mean, C.fitness, C.number, C.id).where(C.job_id == job_id)
                               .order_by(*store.RANK_ORDER)).all()
    database.dispose()
    rng = random.Random(seed)
    positions = [rng.randrange(len(keys) - 50) for _ in range(count)]
    return [encode_cursor(job_id, p + 1, store.RankKey(*keys[p])) for p in positions]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    def __init__(self, url: str, processes: int = 1) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen([ACTSEARCH, "serve", "--no-runner", "--db", url, "--port", str(self.port),
                                         "--log-level", "warning", "--processes", str(processes)],
                                        stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{self.base}/api/v1/healthz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError("the server did not start")
            time.sleep(0.2)

    def stop(self) -> None:
        self.process.send_signal(signal.SIGINT)
        self.process.wait(timeout=60)


async def load(base: str, secret: str, make: Callable[[random.Random], tuple[str, str, Any]],
               concurrency: int, seconds: float) -> dict[str, Any]:
    """``concurrency`` clients, each on its own keep-alive connection, sending requests from
    ``make`` back to back for ``seconds``.

    The clients speak HTTP/1.1 over asyncio streams themselves: httpx's async client spent as
    much CPU per request as the server (81 % of a core each, measured with top), so on 2 cores
    it measured its own queueing as much as the API's.
    """
    host, port = base.removeprefix("http://").rsplit(":", 1)
    errors: collections.Counter[str] = collections.Counter()
    reconnects: list[int] = []
    per_client: dict[int, list[float]] = collections.defaultdict(list)  # uneven shares show as a spread

    async def client(index: int) -> None:
        rng = random.Random(index)
        connection: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        try:
            while time.perf_counter() < end:
                method, path, body = make(rng)
                payload = b"" if body is None else json.dumps(body).encode()
                start = time.perf_counter()
                if connection is None:  # the first, or the server closed the last (it counts in this request)
                    connection = await asyncio.open_connection(host, int(port))
                reader, writer = connection
                writer.write(
                    f"{method} /api/v1{path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {secret}\r\n"
                    f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n".encode() + payload)
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=60)
                status = int(head.split(b" ", 2)[1])
                fields = dict(line.lower().split(b":", 1) for line in head.split(b"\r\n")[1:] if b":" in line)
                await reader.readexactly(int(fields[b"content-length"]))
                per_client[index].append(time.perf_counter() - start)
                if status >= 400:
                    errors[str(status)] += 1
                if fields.get(b"connection", b"").strip() == b"close":  # as HTTP/1.1 clients do: reconnect
                    writer.close()
                    connection = None
                    reconnects.append(index)
        except (OSError, asyncio.IncompleteReadError, TimeoutError) as exc:  # counted, and this client stops
            errors[type(exc).__name__] += 1
        finally:
            if connection is not None:
                connection[1].close()

    end = time.perf_counter() + seconds
    began = time.perf_counter()
    await asyncio.gather(*(client(i) for i in range(concurrency)))
    elapsed = time.perf_counter() - began
    latencies = sorted(latency for values in per_client.values() for latency in values)
    means = [statistics.fmean(values) for values in per_client.values()]
    quantile = statistics.quantiles(latencies, n=100, method="inclusive")
    return {"requests": len(latencies), "errors": sum(errors.values()), "error_kinds": dict(errors),
            "rps": round(len(latencies) / elapsed, 1), "p50_ms": round(quantile[49] * 1000, 1),
            "p99_ms": round(quantile[98] * 1000, 1), "reconnects": len(reconnects),
            "client_mean_ms": [round(min(means) * 1000, 1), round(max(means) * 1000, 1)]}


def measure(url: str, args: argparse.Namespace, prepare: Callable[[], None] = lambda: None) -> dict[str, Any]:
    began = time.perf_counter()
    job_id, secret = fill(url, args.candidates)
    fill_seconds = time.perf_counter() - began
    cursors = deep_cursors(url, job_id, 5000)
    prepare()
    server = Server(url, args.processes)
    try:
        scenarios: dict[str, Callable[[random.Random], tuple[str, str, Any]]] = {
            "leaderboard": lambda rng: ("GET", f"/jobs/{job_id}/leaderboard?limit=50", None),
            "leaderboard_deep": lambda rng: (
                "GET", f"/jobs/{job_id}/leaderboard?limit=50&cursor={rng.choice(cursors)}", None),
            "leaderboard_deep_offset": lambda rng: (
                "GET", f"/jobs/{job_id}/leaderboard?limit=50&offset={rng.randrange(args.candidates - 50)}", None),
            "job_status": lambda rng: ("GET", f"/jobs/{job_id}", None),
            "submit": lambda rng: ("POST", "/jobs", SPEC),
            # The floor: no token, no query beyond SELECT 1 (what the framework costs on this machine).
            "healthz": lambda rng: ("GET", "/healthz", None),
        }
        # Warm up: the first submission imports the evaluator and controllers.
        httpx.post(f"{server.base}/api/v1/jobs", json=SPEC, timeout=120,
                   headers={"Authorization": f"Bearer {secret}"}).raise_for_status()
        results: dict[str, Any] = {}
        for name, make in scenarios.items():
            if name in args.scenarios:
                # unmeasured first: what a process still imports in the background after it
                # started (api.app.warm_up), and connections evened out over the processes
                asyncio.run(load(server.base, secret, make, args.concurrency, args.warm_up))
                results[name] = asyncio.run(load(server.base, secret, make, args.concurrency, args.seconds))
    finally:
        server.stop()
    results["fill_seconds"] = round(fill_seconds, 1)
    if "submit" in results:
        results["submissions_per_second"] = results["submit"]["rps"]
    if "leaderboard" in results and "leaderboard_deep" in results:
        results["meets_target"] = results["leaderboard"]["p99_ms"] < 100 and results["leaderboard_deep"]["p99_ms"] < 100
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--candidates", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--warm-up", type=float, default=2.0, help="unmeasured seconds of load before each scenario")
    parser.add_argument("--processes", type=int, default=1, help="API processes (actsearch serve --processes)")
    parser.add_argument("--pg-url", help="also measure on this PostgreSQL database (it gets a new job)")
    parser.add_argument("--scenarios", type=lambda text: text.split(","), default=SCENARIOS,
                        help=f"comma-separated, of {','.join(SCENARIOS)} (default: all)")
    args = parser.parse_args()
    report: dict[str, Any] = {"candidates": args.candidates, "concurrency": args.concurrency,
                              "processes": args.processes,
                              "seconds": args.seconds, "target_leaderboard_p99_ms": 100}
    with tempfile.TemporaryDirectory() as tmp:
        backends = {"sqlite": f"sqlite:///{tmp}/load.db"}
        if args.pg_url:
            backends["postgresql"] = args.pg_url
        for name, url in backends.items():
            report[name] = measure(url, args)
            print(f"\n{name} ({args.candidates} candidates, {args.concurrency} clients, "
                  f"fill {report[name]['fill_seconds']} s)")
            for scenario in args.scenarios:
                r = report[name][scenario]
                print(f"  {scenario:<23} p50 {r['p50_ms']:>7.1f} ms  p99 {r['p99_ms']:>7.1f} ms  "
                      f"{r['rps']:>7.1f} req/s  ({r['requests']} requests, {r['errors']} errors, "
                      f"client means {r['client_mean_ms'][0]}-{r['client_mean_ms'][1]} ms, {r['reconnects']} reconnects)")
    print(json.dumps(report, sort_keys=True))


if __name__ == "__main__":
    main()
