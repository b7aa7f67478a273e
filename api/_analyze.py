"""``POST /expressions/parse`` computed in a child process, under a time limit.

Describing an expression runs sympy (canonical form, identification), and a short formula can
keep sympy busy for minutes (``sin`` nested 39 deep). In the API process that would hold a
threadpool thread for as long, so the work runs in one long-lived child (``python -m
api._analyze``, JSON lines over pipes) that is killed and restarted when a request overruns.

Example:
    >>> analyzer = Analyzer(time_limit=10)
    >>> analyzer.describe("x * sigmoid(x)")["known_as"]     # doctest: +SKIP
    'SiLU'
"""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any

STARTUP_SECONDS = 120.0
READY = b"ready\n"


class AnalysisError(Exception):
    """The expression cannot be described: a parse error, or it took longer than allowed."""

    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message)
        self.kind = kind


class Analyzer:
    """One child process, one request at a time (requests queue on a lock)."""

    def __init__(self, *, time_limit: float) -> None:
        self.time_limit = time_limit
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None

    def describe(self, text: str) -> dict[str, Any]:
        """What ``actsearch parse --json`` prints; :class:`AnalysisError` otherwise."""
        with self._lock:
            process = self._child()
            assert process.stdin is not None and process.stdout is not None
            process.stdin.write(json.dumps({"expression": text}).encode() + b"\n")
            process.stdin.flush()
            line = _readline(process.stdout, self.time_limit)
            if not line:
                self._stop()
                raise AnalysisError(f"describing this expression took longer than {self.time_limit:g} s "
                                    "(sympy could not simplify it in time)", "analysis_timeout")
        reply: dict[str, Any] = json.loads(line)
        if "error" in reply:
            raise AnalysisError(reply["error"], reply.get("kind", "parse_error"))
        result: dict[str, Any] = reply["result"]
        return result

    def close(self) -> None:
        with self._lock:
            self._stop()

    def _child(self) -> subprocess.Popen[bytes]:
        if self._process is None or self._process.poll() is not None:
            root = str(Path(__file__).resolve().parent.parent)
            env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
            self._process = subprocess.Popen([sys.executable, "-m", "api._analyze"], stdin=subprocess.PIPE,
                                             stdout=subprocess.PIPE, env=env)
            assert self._process.stdout is not None
            # Importing sympy takes seconds: that must not count against the first request.
            if _readline(self._process.stdout, STARTUP_SECONDS) != READY:
                self._stop()
                raise RuntimeError("the expression analyzer process did not start")
        return self._process

    def _stop(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.wait()
            self._process = None


def _readline(stream: IO[bytes], timeout: float) -> bytes:
    """One line from the child, or b"" when none came within ``timeout`` (the child is slow,
    or it died). The child writes each answer as one line and flushes it."""
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as selector:
        selector.register(stream, selectors.EVENT_READ)
        while (left := deadline - time.monotonic()) > 0:
            if selector.select(left):
                return stream.readline()
    return b""


def main() -> None:
    from api.cli import CliError, describe
    from space import load_plugins

    # This child is a fresh interpreter: the API process's plug-in operators are unknown here
    # until it imports them too, and the endpoint would refuse what a job accepts.
    load_plugins()
    describe("x")  # imports and warms sympy before saying so
    sys.stdout.write(READY.decode())
    sys.stdout.flush()
    for line in sys.stdin:
        text = json.loads(line)["expression"]
        try:
            reply: dict[str, Any] = {"result": describe(text)}
        except CliError as exc:
            reply = {"error": str(exc), "kind": "parse_error"}
        except (ArithmeticError, TypeError, ValueError, RecursionError) as exc:  # sympy corner cases
            reply = {"error": f"cannot analyze the expression: {exc}", "kind": "analysis_error"}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
