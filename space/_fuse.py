"""Opt-in fused code generation: recognised sub-trees are emitted as one built-in torch kernel.

Eager PyTorch runs one kernel per operator, forward and backward, so ``x * sigmoid(x)`` costs
about 2.7x ``F.silu`` and the exact GELU formula about 10x ``F.gelu`` on 1M fp32 elements
(``bench/compile_overhead.py``). This module rewrites *only the emitted source*: the expression,
its text, canonical form and fingerprint are untouched, and the fused source is what is stored
and run when a caller asks for it (``compile_function(expr, fused=True)``).

Only smooth patterns are fused, so values and gradients equal the unfused code to rounding
everywhere (kinked forms such as ``relu(x) + min0(exp(x) - 1)`` keep their own, documented
derivative at the kink and are never replaced by ``F.elu``). Products are flattened over ``*``
and division by a constant, so ``x * 2 * sigmoid(x)`` and ``x * (1 + erf(x / sqrt(2))) / 2``
are found too. The patterns, for any sub-tree ``u``:

* ``u * sigmoid(u)``, ``sigmoid_mul(u, u)`` → ``F.silu(u)``  (Swish with β = 1)
* ``u * tanh(softplus(u))`` → ``F.mish(u)``
* ``0.5 * u * (1 + erf(u / sqrt(2)))`` → ``F.gelu(u)``
* ``0.5 * u * (1 + tanh(sqrt(2/pi) * (u + 0.044715 * u^3)))`` → ``F.gelu(u, approximate='tanh')``

Example:
    >>> from space import parse
    >>> render_fused(parse("x * sigmoid(x)"))
    'torch.nn.functional.silu(x)'
"""

from __future__ import annotations

import math

from space._codegen import _fill, is_atomic, render, torch_template
from space._expr import Expr
from space._operators import DIV_EPS
from space._printer import number_text

_F = "torch.nn.functional."
# Constants must match torch's kernels to double precision: a hand-typed 0.7979 is a
# different function and is left alone.
_SQRT1_2 = math.sqrt(0.5)
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_GELU_TANH_KAPPA = 0.044715


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-12)


def _factors(e: Expr) -> tuple[float, list[Expr]]:
    """``e`` as ``c * f1 * f2 * …`` over nested ``mul`` and division by a constant.

    Division by a constant with |c| < DIV_EPS is guarded (its value changes), so it stays a
    factor of its own.
    """
    if e.op == "const":
        assert e.value is not None
        return e.value, []
    if e.op == "mul":
        c1, f1 = _factors(e.args[0])
        c2, f2 = _factors(e.args[1])
        return c1 * c2, f1 + f2
    if e.op == "div":
        den = e.args[1]
        if den.op == "const" and den.value is not None and abs(den.value) >= DIV_EPS:
            c, f = _factors(e.args[0])
            return c / den.value, f
    return 1.0, [e]


def _scaled(e: Expr, scale: float) -> Expr | None:
    """``u`` when ``e`` is ``scale * u`` (in any factor order)."""
    c, f = _factors(e)
    return f[0] if len(f) == 1 and _close(c, scale) else None


def _one_plus(e: Expr, op: str) -> Expr | None:
    """The argument of ``op`` when ``e`` is ``1 + op(…)`` or ``op(…) + 1``."""
    if e.op != "add":
        return None
    for one, other in (e.args, e.args[::-1]):
        if one.op == "const" and one.value == 1.0 and other.op == op:
            return other.args[0]
    return None


def _gelu_tanh_arg(e: Expr) -> Expr | None:
    """``u`` when ``e`` is ``1 + tanh(sqrt(2/pi) * (u + 0.044715 * u^3))``."""
    inner = _one_plus(e, "tanh")
    poly = None if inner is None else _scaled(inner, _SQRT_2_OVER_PI)
    if poly is None or poly.op != "add":
        return None
    u, cubic = poly.args
    v = _scaled(cubic, _GELU_TANH_KAPPA)
    return u if v is not None and v.op == "cube" and v.args[0] == u else None


def _kernel(u: Expr, partner: Expr) -> tuple[str, float, Expr] | None:
    """``(template, constant it absorbs, u)`` when ``u * partner`` is a fused kernel of ``u``."""
    if partner.op == "sigmoid" and partner.args[0] == u:
        return _F + "silu({0})", 1.0, u
    if partner.op == "tanh" and partner.args[0].op == "softplus" and partner.args[0].args[0] == u:
        return _F + "mish({0})", 1.0, u
    erf_arg = _one_plus(partner, "erf")
    if erf_arg is not None and _scaled(erf_arg, _SQRT1_2) == u:
        return _F + "gelu({0})", 0.5, u
    if _gelu_tanh_arg(partner) == u:
        return _F + "gelu({0}, approximate='tanh')", 0.5, u
    return None


def _fuse_product(e: Expr) -> str | None:
    c, factors = _factors(e)
    if len(factors) < 2:  # nothing to pair (and x / 1e-4 must not recurse into itself)
        return None
    parts: list[str] = []
    fused = False
    while factors:
        u = factors.pop(0)
        for i, other in enumerate(factors):
            # either order: x * sigmoid(x) and sigmoid(x) * x
            found = _kernel(u, other) or _kernel(other, u)
            if found is not None:
                template, absorbed, arg = found
                del factors[i]
                c /= absorbed
                parts.append(template.format(render_fused(arg)))
                fused = True
                break
        else:
            src = render_fused(u)
            parts.append(src if is_atomic(src) else f"({src})")
    if not fused:
        return None
    if c != 1.0:
        text = number_text(c)
        parts.insert(0, text if any(ch in text for ch in ".ei") else text + ".0")
    return " * ".join(parts)


def render_fused(expr: Expr) -> str:
    """Torch source for ``expr`` like :func:`space._codegen.render`, with fused kernels."""
    if expr.op == "sigmoid_mul" and expr.args[0] == expr.args[1]:
        return _F + f"silu({render_fused(expr.args[0])})"
    if expr.op in ("mul", "div"):
        fused = _fuse_product(expr)
        if fused is not None:
            return fused
    if not expr.args:
        return render(expr, torch_template)
    operands = [render_fused(a) for a in expr.args]
    fields = {"xp": "", "beta": str(expr.param) if expr.param else ""}
    if expr.value is not None:
        fields["n"] = str(int(expr.value))
    return _fill(torch_template(expr.op), operands, fields)
