"""What the store keeps about a candidate function.

The generated torch source is part of a candidate's identity (equivalent formulas can differ
in gradients at kinks), so it is stored with the row when the candidate is proposed, with its
fingerprint, LaTeX and cost (:func:`describe`, a few milliseconds). Naming a rediscovery exactly
is a fingerprint lookup. The sympy canonical form and the properties cost about 120 ms per
candidate — more than a runner spends dispatching one — so :class:`Describer` computes them in
a separate process, off the search's critical path. Fitting the parameters of parametric known
functions (75-250 ms) is done only for the candidates that reach the confirm phase
(:func:`known_match`).
"""

from __future__ import annotations

import atexit
import functools
import itertools
import json
import logging
import os
import threading
from collections.abc import Callable, Iterator
from typing import Any

import store
from space import (
    PLUGINS_ENV,
    ChildProcess,
    Expr,
    fingerprint,
    identify,
    identify_exact,
    serve_requests,
    to_latex,
    torch_source,
)
from space import describe as describe_expr

log = logging.getLogger(__name__)


def describe(expr: Expr) -> dict[str, Any]:
    """The keyword arguments of ``store.add_candidate`` for ``expr`` (job id aside). The
    canonical form, the torch source (whose header quotes it) and the properties are left
    empty for :class:`Describer`."""
    exact = _exact_known(expr)
    return {
        "fingerprint": fingerprint(expr),
        "expression": str(expr),
        "expr_json": expr.to_json(),
        "canonical": "",
        "latex": to_latex(expr),
        "torch_source": "",
        "properties": {},
        "known_as": exact,
        "known_params": {} if exact else None,
        "cost": expr.cost,
    }


def slow_description(expr_json: Any) -> dict[str, Any]:
    """The canonical form, torch source and properties of a candidate; the properties include
    the signal-propagation gains (:func:`signal_properties`)."""
    expr = Expr.from_json(expr_json)
    # exact names only: fitting parameters waits for the confirm phase (known_match)
    info = describe_expr(expr, fit_known=False, best_effort=True)
    canonical = info["canonical"]
    return {"canonical": canonical, "torch_source": torch_source(expr, canonical=canonical),
            "properties": {**info["properties"], **signal_properties(expr)}}


def signal_properties(expr: Expr) -> dict[str, float]:
    """``signal_gain`` and ``gradient_gain`` per layer of ``expr`` in the evaluator's deep random
    network (``evaluator._signal``; milliseconds). Computed for every candidate, whether or not
    its job rejects on them, so the leaderboard can show them; {} if the probe fails."""
    from evaluator import signal_gains  # torch: imported by the describer process, not the runner

    return _safely(lambda e: signal_gains(e).to_json(), expr, {})


class Describer:
    """Fills in one job's candidates' slow descriptions and writes them to the store as they
    arrive. The child process that computes them (:class:`_DescriberProcess`) is shared by every
    job of the process: importing sympy and torch there takes seconds, more than a short job's
    descriptions. A description lost in a crash leaves the canonical form empty, and the resumed
    job asks for it again."""

    def __init__(self, database: store.Database, *, active: Callable[[], bool],
                 log_extra: dict[str, Any] | None = None) -> None:
        self.database = database
        self.active = active
        self.log_extra = log_extra or {}
        self._outstanding = 0  # asked for and neither stored nor lost
        self._closed = False
        self._settled = threading.Condition()

    def submit(self, candidate_id: int, expr_json: Any) -> None:
        with self._settled:
            self._outstanding += 1
            self._closed = False
        if not _PROCESS.send(self, candidate_id, expr_json):
            self.lost(candidate_id)

    def deliver(self, candidate_id: int, answer: dict[str, Any]) -> None:
        """Stores the description the child answered for ``candidate_id`` (reader thread)."""
        try:
            if self.active() and not self._closed:
                for warning in answer.get("warnings", ()):  # the child's log records, with ids added
                    log.warning("%s", warning, extra={**self.log_extra, "candidate_id": candidate_id})
                with self.database.session() as session:
                    store.describe_candidate(session=session, candidate_id=candidate_id, **answer["description"])
        except Exception:  # noqa: BLE001 — a description is not worth stopping a search for
            log.warning("could not store a candidate description", exc_info=True)
        finally:
            self._settle()

    def lost(self, candidate_id: int) -> None:
        """The child died before it answered for ``candidate_id``."""
        log.warning("the describer process died; candidate %s stays undescribed", candidate_id,
                    extra={**self.log_extra, "candidate_id": candidate_id})
        self._settle()

    def _settle(self) -> None:
        with self._settled:
            self._outstanding -= 1
            self._settled.notify_all()

    def close(self, *, wait: bool = True) -> None:
        """Waits until every description asked for is stored (``wait``), or drops the rest: the
        shared child goes on for the other jobs."""
        with self._settled:
            if wait:
                self._settled.wait_for(lambda: self._outstanding == 0)
            self._closed = True


class _DescriberProcess:
    """The describer child (``python -m worker.describer``, :class:`space.ChildProcess`) and
    the thread that reads its answers, shared by every :class:`Describer` of the process.

    It is started on the first request, and again after it died or when the plug-ins' environment
    changed (the child loads the modules ``ACTSEARCH_PLUGINS`` names: a child started before is
    retired, and answers what it was asked). It ends with the process. Requests carry
    an id of their own: two stores in one process may both have a candidate 1."""

    def __init__(self) -> None:
        self._lock = threading.Lock()  # one writer of the child's input; the pending tables
        self._child: ChildProcess | None = None
        self._reader: threading.Thread | None = None
        self._environment: tuple[str | None, ...] = ()
        self._pending: dict[int, tuple[Describer, int]] = {}  # the current child's
        self._ids = itertools.count()

    def send(self, owner: Describer, candidate_id: int, expr_json: Any) -> bool:
        """Asks for a description; False when the child died (the request is not pending)."""
        with self._lock:
            # a child that died is replaced here, not by ChildProcess.send: this reader reads the old one
            if self._child is None or not self._child.running or self._reader is None or not self._reader.is_alive() \
                    or self._environment != _plugin_environment():
                self._start()
            assert self._child is not None
            request_id = next(self._ids)
            self._pending[request_id] = (owner, candidate_id)
            if self._child.send({"id": request_id, "expr": expr_json}):
                return True
            del self._pending[request_id]
            return False

    def _start(self) -> None:
        retired, pending = self._child, dict[int, tuple[Describer, int]]()
        self._child, self._pending, self._environment = ChildProcess("worker.describer"), pending, _plugin_environment()
        self._child.start()  # no ready line: the runner never waits
        self._reader = threading.Thread(target=self._read, args=(self._child.answers(), pending), daemon=True,
                                        name="describer")
        self._reader.start()
        if retired is not None:  # it sees the end of its input, answers what it was asked and exits
            threading.Thread(target=retired.close, daemon=True, name="describer-retired").start()

    def _read(self, answers: Iterator[dict[str, Any]], pending: dict[int, tuple[Describer, int]]) -> None:
        for answer in answers:
            with self._lock:
                owner, candidate_id = pending.pop(answer["id"], (None, 0))
            if owner is not None:
                owner.deliver(candidate_id, answer)
        with self._lock:  # the child exited: what it had not answered is lost
            lost = list(pending.values())
            pending.clear()
        for owner, candidate_id in lost:
            owner.lost(candidate_id)

    def close(self) -> None:
        """Kills the child (at the process's exit)."""
        with self._lock:
            child, self._child = self._child, None
        if child is not None:
            child.close(wait=False)


def _plugin_environment() -> tuple[str | None, ...]:
    """What decides the operators the child knows (see space._plugins)."""
    return os.environ.get(PLUGINS_ENV), os.environ.get("PYTHONPATH")


_PROCESS = _DescriberProcess()
atexit.register(_PROCESS.close)


class _CollectedRecords(logging.Handler):
    """The child's log records, sent back with the answer so that the runner logs them in its
    own format, with the job and candidate ids."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.setFormatter(logging.Formatter("%(message)s"))
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(self.format(record))


DESCRIBE_SECONDS = 10.0  # sympy's simplify can run for minutes on deep nestings (sin^39(x))


def serve() -> None:
    """The child process (``python -m worker.describer``): one JSON request per stdin line,
    one answer per stdout line. A description that takes longer than ``DESCRIBE_SECONDS``
    falls back to the printed expression as its canonical form, so one pathological candidate
    cannot hold up the others."""
    warnings = _CollectedRecords()
    logging.getLogger().addHandler(warnings)

    # By the expression's JSON: a function asked for again (the baselines, in every job; the
    # same functions in jobs of one space and seed) costs nothing. Timed-out answers (an
    # exception here) are not kept: a less loaded machine may describe them in time.
    @functools.lru_cache(maxsize=10_000)
    def described(expr_text: str) -> dict[str, Any]:
        return slow_description(json.loads(expr_text))

    def answer(request: dict[str, Any]) -> dict[str, Any]:
        warnings.records.clear()
        description = described(json.dumps(request["expr"], sort_keys=True))
        return {"id": request["id"], "description": description, "warnings": warnings.records}

    def timed_out(request: dict[str, Any]) -> dict[str, Any]:
        expr = Expr.from_json(request["expr"])
        description = {"canonical": str(expr), "torch_source": torch_source(expr, canonical=str(expr)),
                       "properties": signal_properties(expr)}  # no sympy: within the time
        return {"id": request["id"], "description": description, "warnings": warnings.records}

    # Import sympy and torch (the signal probe's) before the first request's time limit runs:
    # on a loaded machine the first imports alone took over DESCRIBE_SECONDS, the alarm then
    # left a half-imported module behind, and the fallback answer failed importing it again.
    slow_description("x")  # the JSON form of the expression x
    serve_requests(answer, time_limit=DESCRIBE_SECONDS, timed_out=timed_out)


def known_match(expr: Expr) -> tuple[str, dict[str, float]] | None:
    """The published function ``expr`` equals, parameters fitted (``x*sigmoid(2x)`` is Swish
    with beta=2), or None."""
    match = _safely(identify, expr, None)
    if match is None:
        return None
    return match.name, {k: float(v) for k, v in match.params.items()}


def _exact_known(expr: Expr) -> str | None:
    match = identify_exact(expr)
    return None if match is None else match.name


def _safely(fn: Any, expr: Expr, default: Any) -> Any:
    # description is best effort: a sympy corner case must never stop a search
    try:
        return fn(expr)
    except TimeoutError:
        raise  # the describer's time limit: give up on the whole description
    except Exception:  # noqa: BLE001
        log.warning("could not describe %s with %s", expr, getattr(fn, "__name__", fn), exc_info=True)
        return default
