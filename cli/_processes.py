"""``actsearch serve --processes N``: N uvicorn servers, each on a listening socket of its own.

On Linux every process listens on its own socket of the port (``SO_REUSEPORT``) and the kernel
spreads new connections over the sockets. On one shared socket, the process that woke first
took every connection waiting: 39, 45, even all 50 of bench/api_load.py's 50 keep-alive clients
landed on one process (measured), which then served them alone on one core, at four times the
other's latency, while the other idled. Elsewhere uvicorn's own supervisor runs the processes on
one socket, as before.

The kernel picks a socket by a hash of the connection's addresses, so N sockets get N shares only
on average: 50 connections over 2 landed 18 / 32 in one run (measured), and the process with 32
answered at 1.75 times the other's latency while the other had time to spare. So the processes
also even out their keep-alive connections (:class:`EvenConnections`): one holding more than its
share closes a connection after a response (``Connection: close``, which HTTP/1.1 clients
follow by reconnecting), and the client's next connection is hashed afresh.
"""

from __future__ import annotations

import logging
import math
import multiprocessing
import signal
import socket
import sys
import threading
import time
from collections.abc import Awaitable, Callable, MutableSequence, Sized
from typing import Any

log = logging.getLogger(__name__)

STARTUP_FAILURE = 3  # uvicorn's exit code for a process that could not start (the app, the socket)


def balanced() -> bool:
    """Whether the kernel spreads connections over sockets sharing a port (Linux's ``SO_REUSEPORT``;
    BSD's hands them all to one)."""
    return sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")


def listeners(host: str, port: int, count: int, backlog: int = 2048) -> list[socket.socket]:
    """``count`` sockets listening on ``host:port`` together (port 0: one free port for all).

    They listen before their processes start: a socket that listened only once its process was
    up took no connection until then, and every client that connected while the slowest
    process started landed on the others (measured: 50 of 50 on one process). A connection
    waits in its socket's queue for the process instead, as it does while a process restarts.
    ``backlog``: uvicorn's default."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(family, socket.SOCK_STREAM)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind((host, port))
            sock.listen(backlog)
            port = sock.getsockname()[1]
            sock.set_inheritable(True)
    except OSError:
        for sock in sockets:
            sock.close()
        raise
    return sockets


# How often each process publishes its number of open connections to the others.
PUBLISH_SECONDS = 0.25
# A process closes at most one connection in this time: until the closed connection is gone
# and the client's new one is counted where it landed, every response would close another
# (measured without it: all 27 connections of a process closed at once, then 31 / 18). With
# 0.02 s, 50 connections on one process were 27 / 23 after about a second.
CLOSE_SECONDS = 0.02

Scope = dict[str, Any]
Message = dict[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]], Awaitable[None]]


class EvenConnections:
    """ASGI middleware of one API process among several: while the process holds more open
    connections than its share of all the processes' connections (plus one, so that a connection
    that lands back here is not closed again at once), each response it sends closes its
    connection (``Connection: close``); the client reconnects and the kernel's hash places the
    new connection afresh. ``counts`` holds every process's number of connections, this one's at
    ``index`` (:meth:`publish` keeps it current); ``connections`` is this process's live set."""

    def __init__(self, app: ASGIApp, *, connections: Sized, counts: MutableSequence[int], index: int) -> None:
        self.app = app
        self.connections = connections
        self.counts = counts
        self.index = index
        self.next_close = 0.0

    def publish(self) -> int:
        """This process's number of open connections, written where the others read it."""
        mine = self.counts[self.index] = len(self.connections)
        return mine

    def over_share(self) -> bool:
        mine = self.publish()  # each request's count is current at once
        now = time.monotonic()
        if mine <= math.ceil(sum(self.counts) / len(self.counts)) + 1 or now < self.next_close:
            return False
        self.next_close = now + CLOSE_SECONDS
        return True

    async def __call__(self, scope: Scope, receive: Callable[[], Awaitable[Message]],
                       send: Callable[[Message], Awaitable[None]]) -> None:
        if scope["type"] != "http" or not self.over_share():
            await self.app(scope, receive, send)
            return

        async def closing(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", ()), (b"connection", b"close")]}
            await send(message)

        await self.app(scope, receive, closing)


def _serve(config: Any, sock: socket.socket, counts: MutableSequence[int], index: int) -> None:
    import uvicorn

    config.configure_logging()  # the levels, as uvicorn's own processes set them (log_level)
    server = uvicorn.Server(config)
    config.load()  # the app, wrapped below; uvicorn keeps an app already loaded
    even = EvenConnections(config.loaded_app, connections=server.server_state.connections, counts=counts,
                           index=index)
    config.loaded_app = even
    stop = threading.Event()

    def publish() -> None:  # an idle process's count stays current for the others
        while not stop.wait(PUBLISH_SECONDS):
            even.publish()

    threading.Thread(target=publish, name="publish-connections", daemon=True).start()
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:  # Ctrl+C reaches the whole process group; uvicorn has shut down
        pass
    finally:
        stop.set()


def supervise(config: Any, sockets: list[socket.socket]) -> None:
    """Runs one uvicorn server per socket, each in a process of its own, until SIGINT or SIGTERM;
    a process that exits is started again, unless it failed at startup (then all stop)."""
    spawn = multiprocessing.get_context("spawn")  # as uvicorn's: no state of this process leaks in
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    counts = spawn.RawArray("i", len(sockets))  # each process's open connections (EvenConnections)

    def start(index: int) -> Any:
        counts[index] = 0
        process = spawn.Process(target=_serve, args=(config, sockets[index], counts, index), name="actsearch-api")
        process.start()
        return process

    processes = [start(index) for index in range(len(sockets))]
    while not stop.wait(0.5):
        for index, process in enumerate(processes):
            if process.is_alive():
                continue
            if process.exitcode == STARTUP_FAILURE:
                log.error("API process %s failed to start; stopping", process.pid)
                stop.set()
                break
            log.warning("API process %s exited (code %s); starting another", process.pid, process.exitcode)
            processes[index] = start(index)
    for process in processes:
        if process.is_alive():
            process.terminate()  # SIGTERM: uvicorn finishes the requests in flight
    for process in processes:
        process.join()
    for sock in sockets:
        sock.close()
