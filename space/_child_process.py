"""A long-lived child process that does sympy work, one JSON line in, one JSON line out.

sympy can take minutes over a short formula (``sin`` nested 39 deep), so the processes that
must stay responsive — the API's parse endpoint, the runner — describe expressions in a child
(``python -m MODULE``, plain pipes: no multiprocessing, so no re-import of the caller's main
module) and bound the time it takes, on either side:

* the parent gives up waiting (:meth:`ChildProcess.ask` with a ``timeout``): the child is killed
  and the next request starts a fresh one;
* the child gives up (:func:`serve_requests` with a ``time_limit``): ``SIGALRM`` interrupts the request,
  which gets a fallback answer, and the child carries on with the next.

Example (the child's module calls ``serve_requests(answer, warm_up=...)`` as its main)::

    child = ChildProcess("api._analyze", startup_seconds=120)
    child.ask({"expression": "x*sigmoid(x)"}, timeout=10)   # the answer, or None: too slow
    child.close()
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

READY = b"ready\n"
# The package root, so that the child imports this checkout's packages from any directory.
_ROOT = str(Path(__file__).resolve().parent.parent)

Message = dict[str, Any]


class ChildProcess:
    """The parent's handle on one child at a time, started on first use and again after it
    died or was killed. Not thread-safe: callers serialize their requests.

    Args:
        module: what the child runs (``python -m module``); its main calls :func:`serve_requests`.
        startup_seconds: wait this long for the child's ready line (``serve_requests(warm_up=...)``)
            before its first request, so that importing sympy does not count against that
            request's timeout; None: the child sends no ready line, nothing waits.
    """

    def __init__(self, module: str, *, startup_seconds: float | None = None) -> None:
        self.module = module
        self.startup_seconds = startup_seconds
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Starts the child unless it is running."""
        if self.running:
            return
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [_ROOT, os.environ.get("PYTHONPATH")]))}
        self._process = subprocess.Popen([sys.executable, "-m", self.module], stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, env=env)
        if self.startup_seconds is not None:
            assert self._process.stdout is not None
            if _readline(self._process.stdout, self.startup_seconds) != READY:
                self.close(wait=False)
                raise RuntimeError(f"the child process {self.module} did not start")

    @property
    def running(self) -> bool:
        """Whether the child was started and has not exited."""
        return self._process is not None and self._process.poll() is None

    def send(self, request: Message) -> bool:
        """Writes one request (starting the child if needed); False when the child has died."""
        self.start()
        assert self._process is not None and self._process.stdin is not None
        try:
            self._process.stdin.write(json.dumps(request).encode() + b"\n")
            self._process.stdin.flush()
        except BrokenPipeError:
            return False
        return True

    def ask(self, request: Message, *, timeout: float) -> Message | None:
        """The answer to ``request``, or None when none came within ``timeout`` seconds: the
        child is killed then (it may be stuck in sympy), and the next request starts another."""
        if not self.send(request):
            self.close(wait=False)
            return None
        assert self._process is not None and self._process.stdout is not None
        line = _readline(self._process.stdout, timeout)
        if not line:
            self.close(wait=False)
            return None
        answer: Message = json.loads(line)
        return answer

    def answers(self) -> Iterator[Message]:
        """The running child's answers as they come, until it exits (for a reader thread). Bound
        to the child running now, not when iteration begins: a :meth:`close` in between must
        not leave the reader without a process."""
        assert self._process is not None and self._process.stdout is not None
        return (json.loads(line) for line in self._process.stdout)

    def close(self, *, wait: bool = True) -> None:
        """Lets the child finish the requests sent (``wait``: it sees the end of its input and
        exits) or kills it."""
        process, self._process = self._process, None
        if process is None:
            return
        if wait:
            assert process.stdin is not None
            process.stdin.close()
        else:
            process.kill()
        process.wait()


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


def _timed_out(signum: int, frame: Any) -> None:
    raise TimeoutError


def serve_requests(answer: Callable[[Message], Message], *, time_limit: float | None = None,
          timed_out: Callable[[Message], Message] | None = None,
          warm_up: Callable[[], object] | None = None) -> None:
    """The child's main loop: one JSON request per stdin line, one answer per stdout line.

    Args:
        answer: the answer to a request.
        time_limit: seconds ``answer`` may take; past them it is interrupted (``TimeoutError``)
            and ``timed_out(request)`` answers instead.
        timed_out: the fallback answer (required with ``time_limit``).
        warm_up: run before the ready line (see ``ChildProcess(startup_seconds=...)``); without
            it, no ready line is written.
    """
    from space._plugins import load_plugins

    if time_limit is not None and timed_out is None:
        raise ValueError("a time limit needs a fallback answer (timed_out)")
    # A fresh interpreter: the parent's plug-in operators are unknown here until it imports
    # them too, and the child would refuse what the parent accepts.
    load_plugins()
    if warm_up is not None:
        warm_up()
        _write_line(READY.decode())
    if time_limit is not None:
        signal.signal(signal.SIGALRM, _timed_out)
    for line in sys.stdin:
        request: Message = json.loads(line)
        if time_limit is None or timed_out is None:
            reply = answer(request)
        else:
            signal.setitimer(signal.ITIMER_REAL, time_limit)
            try:
                reply = answer(request)
            except TimeoutError:
                reply = timed_out(request)
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
        _write_line(json.dumps(reply) + "\n")


def _write_line(line: str) -> None:
    sys.stdout.write(line)
    sys.stdout.flush()
