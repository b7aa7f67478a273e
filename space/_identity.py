"""Identity: one function, one identity, however it is written.

Two complementary identities, neither of which is ever what gets computed:

* the **canonical form** – the mathematical function as a sympy expression (our operators
  expanded into standard functions, unguarded), simplified where that is affordable; for
  display and for exact comparison;
* the **fingerprint** – the function's float64 outputs at fixed points (a grid over [-5, 5],
  Act-Bench-style clipped normal samples, and edge values up to ±1e4), rounded to 7 significant
  digits and hashed; the fast dedup key (AutoML-Zero's functional equivalence check).

β parameters take fixed, deliberately "unround" values in order of first appearance, so
``x*sigmoid(beta*x)`` and ``x*sigmoid(x*beta1)`` share a fingerprint, while ``x*sigmoid(x)``
(β = 1) does not.

Example:
    >>> from space import parse
    >>> fingerprint(parse("x/(1+exp(-x))")) == fingerprint(parse("x*sigmoid(x)"))
    True
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Mapping
from typing import Any

import mpmath
import numpy as np
import sympy

from space._expr import Expr
from space._operators import OPERATORS

# Values given to the 1st, 2nd, … parameter of an expression when it is fingerprinted.
FINGERPRINT_PARAMS = (1.2718, 0.6931, 1.7321, 0.4142)
SIGNIFICANT_DIGITS = 7
ZERO_BELOW = 1e-10  # |value| below this counts as 0: guards and rounding differ there
_SIMPLIFY_MAX_OPS = 40  # sympy.simplify beyond this size takes seconds; expand instead
X_SYMBOL = sympy.Symbol("x", real=True)


def _fingerprint_points() -> np.ndarray:
    grid = np.linspace(-5.0, 5.0, 201)
    samples = np.clip(np.random.default_rng(20171016).standard_normal(100), -5.0, 5.0)
    edges = np.array([1e-3, 1e-2, 7.5, 10.0, 20.0, 50.0, 100.0, 1e3, 1e4])
    return np.concatenate([grid, samples, edges, -edges])


POINTS: np.ndarray = _fingerprint_points()
POINTS.setflags(write=False)


def evaluate(
    expr: Expr, x: np.ndarray, params: Mapping[str, float] | None = None
) -> np.ndarray:
    """The mathematical (unguarded) value of ``expr`` at ``x`` in float64; NaN/inf allowed."""
    values = dict(params or {})
    x = np.asarray(x, dtype=np.float64)

    def ev(e: Expr) -> np.ndarray:
        if e.op == "x":
            return x
        if e.op == "const":
            return np.full_like(x, e.value)
        if e.op == "param":
            return np.full_like(x, values.get(str(e.param), 1.0))
        operands: list[np.ndarray | np.float64] = [ev(a) for a in e.args]
        if e.param is not None:
            operands.append(np.full_like(x, values.get(e.param, 1.0)))
        if e.value is not None:
            operands.append(np.float64(e.value))
        return np.asarray(OPERATORS[e.op].reference(*operands), dtype=np.float64)

    with np.errstate(all="ignore"):
        return np.broadcast_to(ev(expr), x.shape).copy()


def fingerprint_params(expr: Expr) -> dict[str, float]:
    names = expr.params()
    if len(names) > len(FINGERPRINT_PARAMS):
        extra = [1.0 + 0.1 * i for i in range(len(names) - len(FINGERPRINT_PARAMS))]
        return dict(zip(names, (*FINGERPRINT_PARAMS, *extra), strict=True))
    return dict(zip(names, FINGERPRINT_PARAMS, strict=False))


def fingerprint_values(expr: Expr) -> np.ndarray:
    """Outputs at :data:`POINTS` (the fingerprint before rounding; surrogate features).

    Where float64 overflows in an intermediate step (``sinh(x)/cosh(x)`` at x = 1e3 is
    inf/inf), the point is evaluated again in arbitrary precision with mpmath, so that equal
    functions written differently still agree at the edge points.
    """
    params = fingerprint_params(expr)
    values = evaluate(expr, POINTS, params)
    bad = ~np.isfinite(values)
    if bad.any():
        values[bad] = _evaluate_mpmath(expr, POINTS[bad], params)
    return values


def _bounded(fn: Any, odd: bool) -> Any:
    """``fn`` (exp, sinh, cosh), but ±inf beyond an argument of 1e5: exp(exp(exp(1e4))) would
    otherwise make mpmath compute with numbers of 10^4000 digits and never return."""

    def call(x: Any) -> Any:
        value = mpmath.mpmathify(x)
        if mpmath.im(value) == 0 and abs(value) > 1e5:
            return mpmath.inf if value > 0 or not odd else -mpmath.inf
        return fn(value)

    return call


_BOUNDED_MPMATH = {
    "exp": _bounded(mpmath.exp, odd=False),
    "sinh": _bounded(mpmath.sinh, odd=True),
    "cosh": _bounded(mpmath.cosh, odd=False),
}


def _evaluate_mpmath(expr: Expr, xs: np.ndarray, params: Mapping[str, float]) -> np.ndarray:
    form = to_sympy(expr).subs({sympy.Symbol(k, real=True): sympy.Float(v, 30) for k, v in params.items()})
    # lambdify prints *our own* sympy expression (built from the validated tree), not user text
    fn = sympy.lambdify(X_SYMBOL, form, modules=[_BOUNDED_MPMATH, "mpmath"])
    out = np.empty(len(xs))
    with mpmath.workdps(30):
        for i, x in enumerate(xs.tolist()):
            try:
                value = complex(fn(mpmath.mpf(x)))
                out[i] = value.real if abs(value.imag) <= 1e-12 * max(1.0, abs(value.real)) else np.nan
            except (ZeroDivisionError, ValueError, TypeError, OverflowError):
                out[i] = np.nan
    return out


def _round(values: np.ndarray) -> list[str]:
    out = []
    for v in values.tolist():
        if v != v:
            out.append("nan")
        elif abs(v) < ZERO_BELOW:
            out.append("0")
        else:
            out.append(f"{v:.{SIGNIFICANT_DIGITS}g}")
    return out


@functools.lru_cache(maxsize=65536)
def fingerprint(expr: Expr) -> str:
    """A 16-hex-digit hash of the rounded outputs: equal functions, equal fingerprints."""
    text = ",".join(_round(fingerprint_values(expr)))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _nice_number(value: float) -> sympy.Expr:
    rational = sympy.Rational(value).limit_denominator(1000)
    if float(rational) == value:
        return rational
    return sympy.Float(value, 15)


def to_sympy(expr: Expr) -> sympy.Expr:
    """The mathematical function (unguarded, unsimplified) as a sympy expression."""
    if expr.op == "x":
        return X_SYMBOL
    if expr.op == "const":
        assert expr.value is not None
        return _nice_number(expr.value)
    if expr.op == "param":
        return sympy.Symbol(str(expr.param), real=True)
    operands = [to_sympy(a) for a in expr.args]
    if expr.param is not None:
        operands.append(sympy.Symbol(expr.param, real=True))
    if expr.value is not None:
        operands.append(sympy.Integer(int(expr.value)))
    return OPERATORS[expr.op].sympy(*operands)


@functools.lru_cache(maxsize=16384)
def canonical(expr: Expr) -> sympy.Expr:
    """A simplified sympy form of the function (for display and exact identity)."""
    form = to_sympy(expr)
    try:
        if sympy.count_ops(form) <= _SIMPLIFY_MAX_OPS:
            return sympy.simplify(form)
        return sympy.expand(form)
    except Exception:  # noqa: BLE001
        # sympy's simplifier raises on some Max/Min nests (e.g. max(x^3, hardswish(x)): "nan is
        # not comparable", PolynomialError); the unsimplified form is still the same function
        return form


def canonical_text(expr: Expr) -> str:
    return sympy.sstr(canonical(expr), order="lex")


def equivalent(a: Expr, b: Expr) -> bool:
    """Whether ``a`` and ``b`` are the same function (by fingerprint)."""
    return fingerprint(a) == fingerprint(b)
