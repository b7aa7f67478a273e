"""Map ordinary math onto the operators whose guarded implementations compute it stably.

People write ``log(1 + exp(x))``; computed literally it overflows at x = 100 in fp32, so it
becomes ``softplus(x)``. Every rewrite here preserves the mathematical function (so identity is
unchanged); it only chooses the better-conditioned implementation:

* ``max(u, 0)``, ``max(0, u)`` → ``relu(u)``; ``min(u, 0)``, ``min(0, u)`` → ``min0(u)``
  (so the derivative at the kink follows relu's convention, 0; see ``space._compile``)
* ``log(1 + exp(u))`` → ``softplus(u)``
* ``1 / (1 + exp(-u))`` → ``sigmoid(u)``; ``v / (1 + exp(-u))`` → ``v * sigmoid(u)``
* ``exp(-u^2)`` → ``gauss(u)``
* ``sin(u) / u`` → ``sinc(u)`` (removable singularity at 0 handled)
"""

from __future__ import annotations

from space._expr import Expr, call

_ONE = 1.0
_ZERO = 0.0


def _is_const(e: Expr, value: float) -> bool:
    return e.op == "const" and e.value == value


def _one_plus(e: Expr) -> Expr | None:
    """``u`` when ``e`` is ``1 + u`` or ``u + 1``."""
    if e.op != "add":
        return None
    a, b = e.args
    if _is_const(a, _ONE):
        return b
    if _is_const(b, _ONE):
        return a
    return None


def _rewrite_node(e: Expr) -> Expr:
    if e.op in ("max", "min") and e.param is None:
        a, b = e.args
        target = "relu" if e.op == "max" else "min0"
        if _is_const(b, _ZERO):
            return call(target, a)
        if _is_const(a, _ZERO):
            return call(target, b)
    if e.op == "log_abs":
        inner = _one_plus(e.args[0])
        if inner is not None and inner.op == "exp":
            return call("softplus", inner.args[0])
    if e.op == "div":
        num, den = e.args
        inner = _one_plus(den)
        if inner is not None and inner.op == "exp" and inner.args[0].op == "neg":
            sig = call("sigmoid", inner.args[0].args[0])
            return sig if _is_const(num, _ONE) else call("mul", num, sig)
        if num.op == "sin" and num.args[0] == den:
            return call("sinc", den)
    if e.op == "exp" and e.args[0].op == "neg" and e.args[0].args[0].op == "square":
        return call("gauss", e.args[0].args[0].args[0])
    return e


def normalize(e: Expr) -> Expr:
    """Applies the rewrites bottom-up until nothing changes (each rewrite shrinks the tree)."""
    if e.args:
        args = tuple(normalize(a) for a in e.args)
        if args != e.args:
            e = call(e.op, *args, param=e.param, exponent=e.value)
    out = _rewrite_node(e)
    return normalize(out) if out != e else out
