"""Shape properties of an activation function, measured numerically.

Everything is computed from the float64 reference :func:`space.evaluate` (the mathematical,
unguarded function) with parameters at their initial values (``expr.param_inits()``), so the
result is deterministic and never depends on the guarded code. The method and its thresholds:

* **Sampling.** A dense grid over [-20, 20] with step 1e-4 (400,001 points, 0 included), the
  tail points ±1e2, ±1e3, ±1e4, and two windows of width 50 (step 0.025) starting at ±1e2 and
  ±1e4.
* **Monotonic.** Over all points sorted by x, every step may fall by at most 1e-12 relative
  (rounding); "increasing", "decreasing", "constant" or "no" (non-strict: relu increases).
  A NaN or a jump through ±inf makes it "no"; overflow to +inf in a tail is still increasing.
* **Smooth (C¹ on [-20, 20]).** Slopes of neighbouring grid steps differ by O(f''·h) for a C¹
  function; at a kink the slope jumps by a fixed amount within one or two steps. A point is a
  kink where that jump exceeds 20 times the largest jump 3–5 steps away on either side plus a
  rounding allowance (1e-6·(1 + |slope|) + 1e4·eps·(1 + |f|)/h). Any non-finite value on the
  grid (a pole, log 0) also makes the function not smooth. Kinks beyond |x| = 20 are not seen.
* **f(0), f'(0).** f at 0; f'(0) from one-sided differences (h = 5e-6, Richardson
  extrapolated), reported as their mean rounded to 8 decimals only when they agree to
  1e-4·(1 + |slopes|); a kink at 0 (or a non-finite value near it) gives ``None``.
* **Asymptotes**, per side: "undefined" if NaN appears; "superlinear" if ±inf appears (overflow
  is growth). "oscillating" if the slope changes sign at least 4 times in the far window and
  the window's spread does not shrink below half that of the near window (a decaying
  oscillation, sinc, converges instead). Otherwise, with increments d1 = f(1e3) − f(1e2) and
  d2 = f(1e4) − f(1e3): converged if |d2| <= 1e-9·max(1, |f(1e4)|) or |d2| < 0.5·|d1|, then
  "zero" if |f(1e4)| < 1e-3 else "constant"; else by r = |d2/d1| (10 for a line):
  r < 10^0.9 "sublinear" (log, sqrt), r <= 10^1.1 "linear", larger "superlinear".
* **Bounded.** Unbounded above if a tail grows upward (or oscillates with growing maxima) or
  +inf appears; likewise below. ``None`` when non-finite values on the grid leave it unknown
  (1/x: +inf at 0 says "not bounded above", nothing is said about below).

Example:
    >>> from space import parse
    >>> p = properties(parse("max(x, 0)"))
    >>> p.monotonic, p.smooth, p.asymptote_pos, p.asymptote_neg
    ('increasing', False, 'linear', 'zero')
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from space._expr import Expr
from space._identity import evaluate

GRID_STEP = 1e-4
GRID_HALF_WIDTH = 20.0
TAIL_POINTS = (1e2, 1e3, 1e4)
WINDOW = np.arange(0.0, 50.0, 0.025)
DERIVATIVE_STEP = 5e-6
EPS = float(np.finfo(np.float64).eps)


@dataclass(frozen=True)
class Properties:
    """Numerically measured shape of a function; see the module docstring for the method.

    Example:
        >>> from space import parse
        >>> properties(parse("tanh(x)")).bounded_above
        True
    """

    monotonic: str  # "increasing", "decreasing", "constant" or "no"
    bounded_below: bool | None
    bounded_above: bool | None
    smooth: bool  # C1 on [-20, 20]
    f0: float | None
    df0: float | None
    asymptote_pos: str  # "zero", "constant", "sublinear", "linear", "superlinear",
    asymptote_neg: str  # "oscillating" or "undefined"
    finite: bool  # every sampled value was finite

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class _Tail:
    kind: str
    up: bool  # unbounded above on this side
    down: bool  # unbounded below on this side


def properties(expr: Expr) -> Properties:
    """Measures :class:`Properties` of ``expr`` with parameters at their initial values."""
    params = expr.param_inits()

    def f(x: np.ndarray) -> np.ndarray:
        return evaluate(expr, x, params)

    with np.errstate(all="ignore"):
        n = round(GRID_HALF_WIDTH / GRID_STEP)
        grid = np.arange(-n, n + 1) * GRID_STEP
        values = f(grid)
        tails = {side: _tail(f, side) for side in (1.0, -1.0)}
        tail_x = np.array(TAIL_POINTS)
        xs = np.concatenate([-tail_x[::-1], grid, tail_x])
        ys = np.concatenate([f(-tail_x[::-1]), values, f(tail_x)])
        grid_finite = bool(np.all(np.isfinite(values)))
        at0 = f(np.array([-2.0, -1.0, 0.0, 1.0, 2.0]) * DERIVATIVE_STEP)
        return Properties(
            monotonic=_monotonic(ys[np.argsort(xs, kind="stable")]),
            bounded_below=_bounded(values, tails, below=True),
            bounded_above=_bounded(values, tails, below=False),
            smooth=grid_finite and not _has_kink(values),
            f0=_number(at0[2]),
            df0=_derivative_at_0(at0),
            asymptote_pos=tails[1.0].kind,
            asymptote_neg=tails[-1.0].kind,
            finite=bool(np.all(np.isfinite(ys))),
        )


def _number(v: float) -> float | None:
    return float(v) if math.isfinite(v) else None


def _monotonic(ys: np.ndarray) -> str:
    if np.any(np.isnan(ys)):
        return "no"
    steps = np.where(ys[1:] == ys[:-1], 0.0, np.diff(ys))  # inf - inf is a flat step, not NaN
    size = np.abs(np.where(np.isinf(ys), 0.0, ys))
    tol = 1e-12 * np.maximum(1.0, np.maximum(size[:-1], size[1:]))
    rising, falling = np.all(steps >= -tol), np.all(steps <= tol)
    if rising and falling:
        return "constant"
    return "increasing" if rising else "decreasing" if falling else "no"


def _has_kink(values: np.ndarray) -> bool:
    slopes = np.diff(values) / GRID_STEP
    jumps = np.abs(np.diff(slopes))
    pair = jumps[:-1] + jumps[1:]  # a kink between grid points splits its jump over two
    k = np.arange(5, pair.size - 5)
    background = np.max([jumps[k + o] for o in (-5, -4, -3, 4, 5, 6)], axis=0)
    noise = 1e-6 * (1.0 + np.abs(slopes[k])) + 1e4 * EPS * (1.0 + np.abs(values[k])) / GRID_STEP
    return bool(np.any(pair[k] > 20.0 * background + noise))


def _derivative_at_0(at0: np.ndarray) -> float | None:
    """Mean of the one-sided derivatives at 0, or ``None`` at a kink (or a non-finite value)."""
    if not np.all(np.isfinite(at0)):
        return None
    h = DERIVATIVE_STEP
    # Richardson extrapolation of each one-sided difference cancels its O(h) error.
    right = 2 * (at0[3] - at0[2]) / h - (at0[4] - at0[2]) / (2 * h)
    left = 2 * (at0[2] - at0[1]) / h - (at0[2] - at0[0]) / (2 * h)
    if abs(left - right) > 1e-4 * (1.0 + abs(left) + abs(right)):
        return None
    return round(float((left + right) / 2), 8) + 0.0


def _tail(f: Any, side: float) -> _Tail:
    points = f(side * np.array(TAIL_POINTS))
    near, far = f(side * (TAIL_POINTS[0] + WINDOW)), f(side * (TAIL_POINTS[-1] + WINDOW))
    every = np.concatenate([points, near, far])
    if np.any(np.isnan(every)):
        return _Tail("undefined", False, False)
    if np.any(np.isinf(every)):
        return _Tail("superlinear", bool(np.any(every == np.inf)), bool(np.any(every == -np.inf)))
    steps = np.diff(far)
    significant = steps[np.abs(steps) > 1e-9 * np.maximum(1.0, np.abs(far[1:]))]
    turns = int(np.count_nonzero(np.diff(np.sign(significant))))
    spread_near, spread_far = np.ptp(near), np.ptp(far)
    if turns >= 4 and spread_far >= 0.5 * spread_near:
        margin = 0.5 * spread_near
        return _Tail(
            "oscillating", bool(far.max() > near.max() + margin), bool(far.min() < near.min() - margin)
        )
    limit = float(np.mean(far)) if turns >= 4 else float(points[2])
    d1, d2 = points[1] - points[0], points[2] - points[1]
    if turns >= 4 or abs(d2) <= 1e-9 * max(1.0, abs(points[2])) or abs(d2) < 0.5 * abs(d1):
        return _Tail("zero" if abs(limit) < 1e-3 else "constant", False, False)
    ratio = abs(d2 / d1) if d1 != 0 else math.inf
    kind = "sublinear" if ratio < 10**0.9 else "linear" if ratio <= 10**1.1 else "superlinear"
    # d2 is the change moving outwards on this side; its sign says where f heads.
    return _Tail(kind, bool(d2 > 0), bool(d2 < 0))


def _bounded(values: np.ndarray, tails: dict[float, _Tail], *, below: bool) -> bool | None:
    blowup = -np.inf if below else np.inf
    if np.any(values == blowup) or any(t.down if below else t.up for t in tails.values()):
        return False
    if not np.all(np.isfinite(values)) or any(t.kind == "undefined" for t in tails.values()):
        return None
    return True
