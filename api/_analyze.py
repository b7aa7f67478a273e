"""``POST /expressions/parse`` computed in a child process, under a time limit.

Describing an expression runs sympy (canonical form, identification), and a short formula can
keep sympy busy for minutes (``sin`` nested 39 deep). In the API process that would hold a
threadpool thread for as long, so the work runs in one long-lived child (``python -m
api._analyze``, :class:`space.ChildProcess`) that is killed and restarted when a request
overruns.

Example:
    >>> analyzer = Analyzer(time_limit=10)
    >>> analyzer.describe("x * sigmoid(x)")["known_as"]     # doctest: +SKIP
    'SiLU'
"""

from __future__ import annotations

import threading
from typing import Any

from space import ChildProcess

STARTUP_SECONDS = 120.0  # importing sympy takes seconds: not counted against the first request


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
        self._child = ChildProcess("api._analyze", startup_seconds=STARTUP_SECONDS)

    def describe(self, text: str) -> dict[str, Any]:
        """What ``actsearch parse --json`` prints; :class:`AnalysisError` otherwise."""
        with self._lock:
            reply = self._child.ask({"expression": text}, timeout=self.time_limit)
        if reply is None:
            raise AnalysisError(f"describing this expression took longer than {self.time_limit:g} s "
                                "(sympy could not simplify it in time)", "analysis_timeout")
        if "error" in reply:
            raise AnalysisError(reply["error"], reply.get("kind", "parse_error"))
        result: dict[str, Any] = reply["result"]
        return result

    def close(self) -> None:
        with self._lock:
            self._child.close(wait=False)


def _answer(request: dict[str, Any]) -> dict[str, Any]:
    from space import ParseError, describe, parse

    try:
        expr = parse(request["expression"])
    except ParseError as exc:
        return {"error": f"cannot parse expression: {exc}\n{exc.pointer()}", "kind": "parse_error"}
    try:
        return {"result": describe(expr)}
    except (ArithmeticError, TypeError, ValueError, RecursionError) as exc:  # sympy corner cases
        return {"error": f"cannot analyze the expression: {exc}", "kind": "analysis_error"}


def main() -> None:
    from space import describe, parse, serve_requests

    # describing "x" imports and warms sympy before the child says it is ready
    serve_requests(_answer, warm_up=lambda: describe(parse("x")))


if __name__ == "__main__":
    main()
