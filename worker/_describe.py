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

import json
import logging
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy import update

import store
from space import (
    Expr,
    canonical_text,
    fingerprint,
    identify,
    identify_exact,
    load_plugins,
    properties,
    to_latex,
    torch_source,
)

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
    canonical = _safely(canonical_text, expr, str(expr))
    shape = _safely(lambda e: properties(e).to_json(), expr, {})
    return {"canonical": canonical, "torch_source": torch_source(expr, canonical=canonical),
            "properties": {**shape, **signal_properties(expr)}}


def signal_properties(expr: Expr) -> dict[str, float]:
    """``signal_gain`` and ``gradient_gain`` per layer of ``expr`` in the evaluator's deep random
    network (``evaluator._signal``; milliseconds). Computed for every candidate, whether or not
    its job rejects on them, so the leaderboard can show them; {} if the probe fails."""
    from evaluator import signal_gains  # torch: imported by the describer process, not the runner

    return _safely(lambda e: signal_gains(e).to_json(), expr, {})


class Describer:
    """Fills in candidates' slow descriptions in a child process (``python -m
    worker.describer``, JSON lines over pipes: no multiprocessing, so no re-import of the
    caller's main module) and writes them to the store as they arrive. A description lost in a
    crash leaves the canonical form empty, and the resumed job asks for it again."""

    def __init__(self, database: store.Database, *, active: Callable[[], bool],
                 log_extra: dict[str, Any] | None = None) -> None:
        self.database = database
        self.active = active
        self.log_extra = log_extra or {}
        self._process: subprocess.Popen[str] | None = None
        self._reader: threading.Thread | None = None

    def submit(self, candidate_id: int, expr_json: Any) -> None:
        if self._process is None:
            self._process = subprocess.Popen([sys.executable, "-m", "worker.describer"], stdin=subprocess.PIPE,
                                             stdout=subprocess.PIPE, text=True, bufsize=1)
            self._reader = threading.Thread(target=self._read, args=(self._process,), daemon=True,
                                            name="describer")
            self._reader.start()
        assert self._process.stdin is not None
        try:
            self._process.stdin.write(json.dumps({"id": candidate_id, "expr": expr_json}) + "\n")
        except BrokenPipeError:
            log.warning("the describer process died; candidate %s stays undescribed", candidate_id,
                        extra={"candidate_id": candidate_id})

    def _read(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            if not self.active():
                continue
            try:
                answer = json.loads(line)
                for warning in answer.get("warnings", ()):  # the child's log records, with ids added
                    log.warning("%s", warning, extra={**self.log_extra, "candidate_id": answer["id"]})
                with self.database.session() as session:
                    session.execute(update(store.Candidate).where(store.Candidate.id == answer["id"])
                                    .values(**answer["description"]))
            except Exception:  # noqa: BLE001 — a description is not worth stopping a search for
                log.warning("could not store a candidate description", exc_info=True)

    def close(self, *, wait: bool = True) -> None:
        """Lets the child finish the descriptions asked for (``wait``) or kills it."""
        process, self._process = self._process, None
        if process is None:
            return
        assert process.stdin is not None
        if wait:
            process.stdin.close()
        else:
            process.kill()
        process.wait()
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


def _timed_out(signum: int, frame: Any) -> None:
    raise TimeoutError


def serve() -> None:
    """The child process (``python -m worker.describer``): one JSON request per stdin line,
    one answer per stdout line. A description that takes longer than ``DESCRIBE_SECONDS``
    falls back to the printed expression as its canonical form, so one pathological candidate
    cannot hold up the others."""
    load_plugins()  # plug-in operators must be known to describe their candidates
    signal.signal(signal.SIGALRM, _timed_out)
    warnings = _CollectedRecords()
    logging.getLogger().addHandler(warnings)
    for line in sys.stdin:
        request = json.loads(line)
        warnings.records.clear()
        signal.setitimer(signal.ITIMER_REAL, DESCRIBE_SECONDS)
        try:
            description = slow_description(request["expr"])
        except TimeoutError:
            expr = Expr.from_json(request["expr"])
            description = {"canonical": str(expr), "torch_source": torch_source(expr, canonical=str(expr)),
                           "properties": signal_properties(expr)}  # no sympy: within the time
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        answer = {"id": request["id"], "description": description, "warnings": warnings.records}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


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
