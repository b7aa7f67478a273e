"""Everything the search space can say about an expression before it is trained.

One description serves ``actsearch parse``, ``POST /expressions/parse`` (both in a child
process of theirs, :mod:`space._child_process`) and the runner's describer, which stores the
canonical form and the properties with every candidate.

Example:
    >>> describe(parse("x*sigmoid(x)"))["known_as"]
    'SiLU'
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from space._export_latex import to_latex
from space._expr import Expr
from space._identity import canonical_text, fingerprint
from space._known import KnownMatch, identify, identify_exact
from space._properties import properties

log = logging.getLogger(__name__)

T = TypeVar("T")


def describe(expr: Expr, *, fit_known: bool = True, best_effort: bool = False) -> dict[str, Any]:
    """JSON-ready data, in the order ``actsearch parse`` prints it: the expression as written,
    its canonical form, LaTeX, the published function it is (``known_as``, ``known``), its
    fingerprint, operators, parameters, cost, size and properties.

    Args:
        fit_known: name a parametric published function with its parameters fitted (Swish for
            ``x*sigmoid(2x)``, 75-250 ms); False: exact matches only, a fingerprint lookup.
        best_effort: a sympy failure in the canonical form, the identification or the
            properties is logged and leaves that part at its fallback (the printed expression,
            no match, no properties) instead of raising. A ``TimeoutError`` (the caller's time
            limit) always propagates.
    """

    def part(fn: Callable[[Expr], T], fallback: T) -> T:
        if not best_effort:
            return fn(expr)
        try:
            return fn(expr)
        except TimeoutError:
            raise
        except Exception:  # noqa: BLE001 — a sympy corner case must not stop the caller
            log.warning("could not describe %s with %s", expr, getattr(fn, "__name__", fn), exc_info=True)
            return fallback

    match: KnownMatch | None = part(identify if fit_known else identify_exact, None)
    no_properties: dict[str, Any] = {}
    return {
        "expression": str(expr),
        "canonical": part(canonical_text, str(expr)),
        "latex": to_latex(expr),
        "known_as": None if match is None else match.name,
        "known": None if match is None else match.to_json(),
        "fingerprint": fingerprint(expr),
        "operators": list(expr.operators()),
        "parameters": expr.param_inits(),
        "cost": expr.cost,
        "size": expr.size,
        "properties": part(lambda e: properties(e).to_json(), no_properties),
    }
