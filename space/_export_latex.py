"""Expression → LaTeX, filled in from the operator table's ``latex`` templates.

The written tree is printed as it is (``x \\sigma\\left(\\beta x\\right)``); parentheses are
added only where an operand would otherwise bind wrongly. Each template's binding strength is
read off the template itself (a top-level ``+`` makes a sum, juxtaposition a product, a
leading ``-`` a negation), so a new operator needs nothing but its template.
:func:`latex_canonical` prints the simplified canonical form with sympy instead.

Example:
    >>> from space import parse
    >>> to_latex(parse("x * sigmoid(beta * x)"))
    'x \\\\sigma\\\\left(\\\\beta x\\\\right)'
"""

from __future__ import annotations

import re

import sympy

from space._codegen import template_pieces
from space._expr import Expr
from space._operators import OPERATORS
from space._printer import number_text

SUM, NEG, PRODUCT, ATOM = 1, 2, 3, 5
# \left(x\right)^{2} reads better as x^{2} (a power of a single symbol or digit string);
# not after a letter, where the parentheses are a function call's
_POWER_OF_SIMPLE = re.compile(r"(?<![A-Za-z])\\left\(([A-Za-z]|\\beta(?:_\{\d+\})?|\d+)\\right\)\^")


def _param(name: str) -> str:
    suffix = name[len("beta") :]
    return f"\\beta_{{{suffix}}}" if suffix else "\\beta"


def _number(value: float) -> tuple[str, int]:
    text = number_text(value)
    if "e" in text:
        mantissa, exponent = text.split("e")
        power = f"10^{{{int(exponent)}}}"
        text = power if mantissa == "1" else f"{mantissa} \\cdot {power}"
        return text, (NEG if value < 0 else PRODUCT)
    return text, (NEG if value < 0 else ATOM)


_GROUPING = re.compile(r"(\\left.|\\right.|[{}])")


def _depth(text: str) -> int:
    """Nesting depth (brace groups, left/right pairs) at the end of ``text``."""
    return text.count("{") - text.count("}") + text.count("\\left") - text.count("\\right")


def _top_level(marked: str) -> str:
    """``marked`` without its brace groups and left/right groups."""
    kept, depth = [], 0
    for part in _GROUPING.split(marked):
        if _GROUPING.fullmatch(part):
            depth += 1 if part == "{" or part.startswith("\\left") else -1
        elif depth == 0:
            kept.append(part)
    return "".join(kept)


def _strength(top: str) -> int:
    if " + " in top or " - " in top:
        return SUM
    if top.startswith("-"):
        return NEG
    return PRODUCT if " " in top else ATOM


def _latex(expr: Expr) -> tuple[str, int]:
    """The LaTeX of ``expr`` and how strongly it binds."""
    if expr.op == "x":
        return "x", ATOM
    if expr.op == "param":
        return _param(str(expr.param)), ATOM
    if expr.op == "const":
        assert expr.value is not None
        return _number(expr.value)
    operands = [_latex(a) for a in expr.args]
    # Templates write the operator's parameter as \beta; show its real name (beta1 -> \beta_{1}).
    template = OPERATORS[expr.op].latex.replace("\\beta", "{beta}")
    fields = {"beta": _param(expr.param or "beta"), "n": str(int(expr.value or 0))}
    pieces = template_pieces(template, len(operands), fields)
    strength = _strength(_top_level("".join(pieces[::2])))
    out = []
    for k, piece in enumerate(pieces):
        if k % 2 == 0:
            out.append(piece)
            continue
        src, bound = operands[int(piece)]
        before = "".join(pieces[:k:2])  # the template text before this operand
        if _depth(before) > 0:  # inside braces or \left … \right: already delimited
            out.append(src)
            continue
        if k == 1 and not before:
            need = {SUM: SUM, PRODUCT: NEG}.get(strength, ATOM)
        else:
            need = PRODUCT if strength in (SUM, PRODUCT) else ATOM
        if bound < need:
            src = f"\\left({src}\\right)"
        elif before.endswith(" ") and src[:1].isdigit() and not before.rstrip().endswith(("+", "-")):
            src = f"\\cdot {src}"  # a number after juxtaposition would merge with what precedes
        out.append(src)
    text = "".join(out)
    return text, (min(strength, NEG) if text.startswith("-") else strength)


def to_latex(expr: Expr) -> str:
    """LaTeX of the expression as written (tree-driven, from the operator templates)."""
    return _POWER_OF_SIMPLE.sub(r"\1^", _latex(expr)[0])


def latex_canonical(expr: Expr) -> str:
    """LaTeX of the simplified canonical form, printed by sympy."""
    from space._identity import canonical

    return str(sympy.latex(canonical(expr)))
