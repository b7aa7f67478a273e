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
import multiprocessing
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any

from sqlalchemy import update

import store
from space import (
    Expr,
    canonical_text,
    fingerprint,
    identify,
    identify_exact,
    properties,
    to_latex,
    torch_source,
)

log = logging.getLogger(__name__)


def describe(expr: Expr) -> dict[str, Any]:
    """The keyword arguments of ``store.add_candidate`` for ``expr`` (job id aside); the
    canonical form and properties are left empty for :class:`Describer`."""
    exact = _exact_known(expr)
    return {
        "fingerprint": fingerprint(expr),
        "expression": str(expr),
        "expr_json": expr.to_json(),
        "canonical": "",
        "latex": to_latex(expr),
        "torch_source": torch_source(expr),
        "properties": {},
        "known_as": exact,
        "known_params": {} if exact else None,
        "cost": expr.cost,
    }


def slow_description(expr_json: Any) -> dict[str, Any]:
    """The canonical form and properties of a candidate (runs in the describer process)."""
    expr = Expr.from_json(expr_json)
    return {"canonical": _safely(canonical_text, expr, str(expr)),
            "properties": _safely(lambda e: properties(e).to_json(), expr, {})}


class Describer:
    """Fills in candidates' canonical forms and properties in a separate process and writes
    them to the store as they are ready. A candidate whose description was lost in a crash
    still has an empty canonical form, and the resumed job submits it again."""

    def __init__(self, database: store.Database, *, active: Callable[[], bool]) -> None:
        self.database = database
        self.active = active
        self._pool: ProcessPoolExecutor | None = None
        self._futures: list[Future[dict[str, Any]]] = []

    def submit(self, candidate_id: int, expr_json: Any) -> None:
        if self._pool is None:
            # spawn: a fork of a process that runs Ray, torch and threads is not safe
            self._pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
        future = self._pool.submit(slow_description, expr_json)
        future.add_done_callback(lambda f: self._write(candidate_id, f))
        self._futures.append(future)

    def _write(self, candidate_id: int, future: Future[dict[str, Any]]) -> None:
        if future.cancelled() or not self.active():
            return
        try:
            values = future.result()
            with self.database.session() as session:
                session.execute(update(store.Candidate).where(store.Candidate.id == candidate_id).values(**values))
        except Exception:  # noqa: BLE001 — a description is not worth stopping a search for
            log.warning("could not store the description of candidate %s", candidate_id, exc_info=True)

    def close(self, *, wait: bool = True) -> None:
        """Waits for the descriptions in progress (``wait``) or drops them, then stops the process."""
        if self._pool is not None:
            self._pool.shutdown(wait=wait, cancel_futures=not wait)
            self._pool = None


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
    except Exception:  # noqa: BLE001
        log.warning("could not describe %s with %s", expr, getattr(fn, "__name__", fn), exc_info=True)
        return default
