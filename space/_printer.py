"""The text form of an expression: ordinary infix math that the parser reads back unchanged.

``parse(to_text(e)) == e`` for every expression the parser can produce. Operators that carry β
print the parameter as a trailing argument (``beta_mul(x, beta1)``) so that its name survives.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from space._expr import Expr

# Binding strength of infix forms; calls and leaves bind tightest.
_INFIX = {"add": (1, " + "), "sub": (1, " - "), "mul": (2, " * "), "div": (2, " / ")}
_NEG = 3
_POWER = {"square": "2", "cube": "3"}
_ATOM = 5


def number_text(value: float) -> str:
    """Shortest text that reads back as exactly ``value``."""
    text = repr(value)
    return text[:-2] if text.endswith(".0") and "e" not in text else text


def to_text(expr: Expr) -> str:
    return _text(expr)[0]


def _text(e: Expr) -> tuple[str, int]:
    if e.op == "x":
        return "x", _ATOM
    if e.op == "param":
        return str(e.param), _ATOM
    if e.op == "const":
        assert e.value is not None
        return number_text(e.value), (_NEG if e.value < 0 else _ATOM)
    if e.op in _INFIX and e.param is None:
        prec, sym = _INFIX[e.op]
        left = _wrap(e.args[0], prec)
        # the right operand of - and / needs parentheses at equal binding strength
        right = _wrap(e.args[1], prec + (e.op in ("sub", "div")))
        return left + sym + right, prec
    if e.op == "neg":
        return "-" + _wrap(e.args[0], _NEG + 1), _NEG
    if e.op in _POWER or e.op == "powi":
        exponent = _POWER.get(e.op) or str(int(e.value or 0))
        return _wrap(e.args[0], _ATOM) + "^" + exponent, _NEG + 1
    inner = ", ".join(_text(a)[0] for a in e.args)
    if e.param is not None:
        inner += ", " + e.param
    return f"{e.op}({inner})", _ATOM


def _wrap(e: Expr, min_prec: int) -> str:
    text, prec = _text(e)
    return text if prec >= min_prec else f"({text})"
