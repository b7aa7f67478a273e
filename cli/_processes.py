"""``actsearch serve --processes N``: N uvicorn servers, each on a listening socket of its own.

On Linux every process listens on its own socket of the port (``SO_REUSEPORT``) and the kernel
spreads new connections over the sockets evenly. On one shared socket, the process that woke
first took every connection waiting: 39, 45, even all 50 of bench/api_load.py's 50 keep-alive
clients landed on one process (measured), which then served them alone on one core, at four
times the other's latency, while the other idled. Elsewhere uvicorn's own supervisor runs the
processes on one socket, as before.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import socket
import sys
import threading
from typing import Any

log = logging.getLogger(__name__)

STARTUP_FAILURE = 3  # uvicorn's exit code for a process that could not start (the app, the socket)


def balanced() -> bool:
    """Whether the kernel spreads connections over sockets sharing a port (Linux's ``SO_REUSEPORT``;
    BSD's hands them all to one)."""
    return sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")


def listeners(host: str, port: int, count: int) -> list[socket.socket]:
    """``count`` sockets bound to ``host:port`` together (port 0: one free port for all)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(family, socket.SOCK_STREAM)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind((host, port))
            port = sock.getsockname()[1]
            sock.set_inheritable(True)
    except OSError:
        for sock in sockets:
            sock.close()
        raise
    return sockets


def _serve(config: Any, sock: socket.socket) -> None:
    import uvicorn

    config.configure_logging()  # the levels, as uvicorn's own processes set them (log_level)
    try:
        uvicorn.Server(config).run(sockets=[sock])
    except KeyboardInterrupt:  # Ctrl+C reaches the whole process group; uvicorn has shut down
        pass


def supervise(config: Any, sockets: list[socket.socket]) -> None:
    """Runs one uvicorn server per socket, each in a process of its own, until SIGINT or SIGTERM;
    a process that exits is started again, unless it failed at startup (then all stop)."""
    spawn = multiprocessing.get_context("spawn")  # as uvicorn's: no state of this process leaks in
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())

    def start(sock: socket.socket) -> Any:
        process = spawn.Process(target=_serve, args=(config, sock), name="actsearch-api")
        process.start()
        return process

    processes = [start(sock) for sock in sockets]
    while not stop.wait(0.5):
        for index, process in enumerate(processes):
            if process.is_alive():
                continue
            if process.exitcode == STARTUP_FAILURE:
                log.error("API process %s failed to start; stopping", process.pid)
                stop.set()
                break
            log.warning("API process %s exited (code %s); starting another", process.pid, process.exitcode)
            processes[index] = start(sockets[index])
    for process in processes:
        if process.is_alive():
            process.terminate()  # SIGTERM: uvicorn finishes the requests in flight
    for process in processes:
        process.join()
    for sock in sockets:
        sock.close()
