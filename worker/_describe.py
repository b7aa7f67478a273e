"""What the store keeps about a candidate function, computed once when it is proposed.

The generated torch source is part of a candidate's identity (equivalent formulas can differ
in gradients at kinks), so it is stored with the row. Naming a rediscovery exactly is a
fingerprint lookup; fitting the parameters of parametric known functions costs 75-250 ms per
candidate and is done only for the candidates that reach the confirm phase (:func:`known_match`).
"""

from __future__ import annotations

import logging
from typing import Any

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
    """The keyword arguments of ``store.add_candidate`` for ``expr`` (job id aside)."""
    exact = _exact_known(expr)
    return {
        "fingerprint": fingerprint(expr),
        "expression": str(expr),
        "expr_json": expr.to_json(),
        "canonical": _safely(canonical_text, expr, str(expr)),
        "latex": to_latex(expr),
        "torch_source": torch_source(expr),
        "properties": _safely(lambda e: properties(e).to_json(), expr, {}),
        "known_as": exact,
        "known_params": {} if exact else None,
        "cost": expr.cost,
    }


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
