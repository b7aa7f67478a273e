"""``actsearch serve --processes N``: one listening socket per process, connections spread over them."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from cli._processes import balanced, listeners
from tests.cli.test_cli import ACTSEARCH

pytestmark = pytest.mark.skipif(not balanced(), reason="the kernel does not balance SO_REUSEPORT sockets here")


def test_listeners_share_one_port_and_the_kernel_spreads_connections_over_them() -> None:
    sockets = listeners("127.0.0.1", 0, 2)
    clients: list[socket.socket] = []
    try:
        port = sockets[0].getsockname()[1]
        assert port != 0 and sockets[1].getsockname()[1] == port
        for sock in sockets:
            sock.listen(128)
            sock.setblocking(False)
        clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(64)]
        accepted = []
        for sock in sockets:
            count = 0
            while True:
                try:
                    sock.accept()[0].close()
                except BlockingIOError:
                    break
                count += 1
            accepted.append(count)
        # each connection lands on one socket, by a hash of its addresses: 32 ± 4 each
        assert sum(accepted) == 64 and min(accepted) >= 16, accepted
    finally:
        for sock in [*sockets, *clients]:
            sock.close()


def _api_processes(parent: int) -> set[int]:
    found = subprocess.run(["pgrep", "-P", str(parent)], capture_output=True, text=True, check=False).stdout.split()
    return {int(pid) for pid in found if "resource_tracker" not in Path(f"/proc/{pid}/cmdline").read_text()}


def _wait(condition: object, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def _answers(base: str) -> bool:
    try:
        return httpx.get(f"{base}/api/v1/healthz", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([ACTSEARCH, "serve", "--no-runner", "--processes", "2", "--port", str(port),
                               "--db", f"sqlite:///{tmp_path}/api.db", "--log-level", "warning"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        yield server, f"http://127.0.0.1:{port}"
    finally:
        if server.poll() is None:
            children = psutil.Process(server.pid).children(recursive=True)
            server.kill()
            server.wait(timeout=60)
            for child in children:  # a killed supervisor leaves its API processes behind
                child.kill()


def test_serve_processes_restarts_a_process_that_dies_and_stops_on_sigint(served) -> None:
    server, base = served
    _wait(lambda: _answers(base) and len(_api_processes(server.pid)) == 2, "two API processes")
    first = _api_processes(server.pid)
    os.kill(min(first), signal.SIGKILL)
    _wait(lambda: len(_api_processes(server.pid) - first) == 1 and len(_api_processes(server.pid)) == 2,
          "a new API process")
    # both sockets are served again: every connection, whichever socket it lands on, is answered
    _wait(lambda: all(_answers(base) for _ in range(20)), "answers on both sockets")
    every = first | _api_processes(server.pid)
    server.send_signal(signal.SIGINT)
    assert server.wait(timeout=60) == 0, server.stderr.read().decode() if server.stderr else ""
    assert not any(Path(f"/proc/{pid}").exists() for pid in every)


def _serving(pid: int, client_ports: set[int]) -> set[int]:
    """Which of ``client_ports``' connections the API process ``pid`` holds."""
    return {c.raddr.port for c in psutil.Process(pid).net_connections(kind="tcp")
            if c.raddr and c.raddr.port in client_ports and c.status == psutil.CONN_ESTABLISHED}


def _get(sock: socket.socket) -> bool:
    """One keep-alive GET of /healthz on ``sock``; whether the server closes the connection after it."""
    sock.sendall(b"GET /api/v1/healthz HTTP/1.1\r\nHost: test\r\n\r\n")
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(4096)
        assert chunk, "the server closed the connection before answering"
        head += chunk
    fields = dict(line.lower().split(b":", 1) for line in head.split(b"\r\n\r\n")[0].split(b"\r\n")[1:])
    body = head.split(b"\r\n\r\n", 1)[1]
    while len(body) < int(fields[b"content-length"]):
        body += sock.recv(4096)
    assert head.startswith(b"HTTP/1.1 200"), head
    return fields.get(b"connection", b"").strip() == b"close"


def test_processes_even_out_keep_alive_connections_the_kernel_spread_unevenly(served) -> None:
    server, base = served
    _wait(lambda: _answers(base) and len(_api_processes(server.pid)) == 2, "two API processes")
    first, second = sorted(_api_processes(server.pid))
    port = int(base.rsplit(":", 1)[1])
    # Connections the kernel hashed to the first process, 30 of them, and 10 to the second: as
    # uneven as the hash makes it by chance (18 / 32 was measured), here on purpose.
    wanted = {first: 30, second: 10}
    kept: dict[int, list[socket.socket]] = {first: [], second: []}
    for _ in range(1000):
        if all(len(kept[pid]) == count for pid, count in wanted.items()):
            break
        sock = socket.create_connection(("127.0.0.1", port))
        closing = _get(sock)  # accepted and answered: now the process holds it (unless it closes it)
        local = sock.getsockname()[1]
        holder = next((pid for pid in (first, second) if _serving(pid, {local})), None)
        if not closing and holder is not None and len(kept[holder]) < wanted[holder]:
            kept[holder].append(sock)
        else:
            sock.close()
    assert len(kept[first]) == 30 and len(kept[second]) == 10, "the kernel hashed few connections to one process"
    clients = kept[first] + kept[second]
    try:
        closed = 0
        for _ in range(100):  # every client keeps asking; a closed connection is opened again
            for index, sock in enumerate(clients):
                if _get(sock):
                    sock.close()
                    clients[index] = socket.create_connection(("127.0.0.1", port))
                    closed += 1
        ports = {sock.getsockname()[1] for sock in clients}
        shares = sorted(len(_serving(pid, ports)) for pid in (first, second))
        assert sum(shares) == 40 and shares[1] - shares[0] <= 3, shares
        assert closed >= 9, closed  # at least the 10 above the first process's share moved
    finally:
        for sock in clients:
            sock.close()
