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

import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any

import store
from space import (
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
    """Fills in candidates' slow descriptions in a child process (``python -m
    worker.describer``, :class:`space.ChildProcess`) and writes them to the store as they
    arrive. A description lost in a crash leaves the canonical form empty, and the resumed job
    asks for it again."""

    def __init__(self, database: store.Database, *, active: Callable[[], bool],
                 log_extra: dict[str, Any] | None = None) -> None:
        self.database = database
        self.active = active
        self.log_extra = log_extra or {}
        self._child: ChildProcess | None = None
        self._reader: threading.Thread | None = None

    def submit(self, candidate_id: int, expr_json: Any) -> None:
        if self._child is None:
            self._child = ChildProcess("worker.describer")  # no ready line: the runner never waits
            self._child.start()
            self._reader = threading.Thread(target=self._read, args=(self._child.answers(),), daemon=True,
                                            name="describer")
            self._reader.start()
        if not self._child.send({"id": candidate_id, "expr": expr_json}):
            log.warning("the describer process died; candidate %s stays undescribed", candidate_id,
                        extra={"candidate_id": candidate_id})

    def _read(self, answers: Iterator[dict[str, Any]]) -> None:
        for answer in answers:
            if not self.active():
                continue
            try:
                for warning in answer.get("warnings", ()):  # the child's log records, with ids added
                    log.warning("%s", warning, extra={**self.log_extra, "candidate_id": answer["id"]})
                with self.database.session() as session:
                    store.describe_candidate(session=session, candidate_id=answer["id"], **answer["description"])
            except Exception:  # noqa: BLE001 — a description is not worth stopping a search for
                log.warning("could not store a candidate description", exc_info=True)

    def close(self, *, wait: bool = True) -> None:
        """Lets the child finish the descriptions asked for (``wait``) or kills it."""
        child, self._child = self._child, None
        if child is None:
            return
        child.close(wait=wait)
        if self._reader is not None:
            self._reader.join()


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

    def answer(request: dict[str, Any]) -> dict[str, Any]:
        warnings.records.clear()
        return {"id": request["id"], "description": slow_description(request["expr"]), "warnings": warnings.records}

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
