"""Turn an expression into source text for one target, driven by the operator table.

Each operator declares a template per target (``space._operators``); this module only fills
them in, adding parentheses where an operand is not atomic. The output depends on nothing but
the expression, so the same expression always yields byte-identical source.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from space._expr import Expr
from space._operators import OPERATORS
from space._printer import number_text

_ATOMIC = re.compile(r"[A-Za-z_][\w.]*|\d[\w.]*")


def is_atomic(src: str) -> bool:
    """Whether ``src`` needs no parentheses as an operand: a name, a number or one call."""
    if _ATOMIC.fullmatch(src):
        return True
    m = re.match(r"[A-Za-z_][\w.]*\(", src)
    if not m or not src.endswith(")"):
        return False
    depth = 0
    for i, ch in enumerate(src[m.end() - 1 :], start=m.end() - 1):
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if depth == 0:
            return i == len(src) - 1
    return False


def template_pieces(template: str, n_operands: int, fields: dict[str, str]) -> list[str]:
    """``template`` filled with ``fields`` and split at its operand slots: even items are
    template text, odd items the index of the operand that goes there (as text)."""
    marked = template.format(*(f"\x00{i}\x00" for i in range(n_operands)), **fields)
    return marked.split("\x00")


def _fill(template: str, operands: list[str], fields: dict[str, str]) -> str:
    """Formats ``template``, parenthesizing an operand unless it is atomic or it stands alone
    as a call argument (between ``(``/``,`` and ``,``/``)``)."""
    pieces = template_pieces(template, len(operands), fields)
    out = []
    for k, piece in enumerate(pieces):
        if k % 2 == 0:
            out.append(piece)
            continue
        src = operands[int(piece)]
        before = pieces[k - 1].rstrip()[-1:]
        after = pieces[k + 1].lstrip()[:1] if k + 1 < len(pieces) else ""
        alone = before in ("(", ",") and after in (",", ")")
        out.append(src if alone or is_atomic(src) else f"({src})")
    return "".join(out)


def render(
    expr: Expr,
    template_of: Callable[[str], str],
    *,
    xp: str = "",
    param_of: Callable[[str], str] = lambda name: name,
) -> str:
    """Fills in ``template_of(op)`` bottom-up; ``{xp}`` becomes the array module name."""
    if expr.op == "x":
        return "x"
    if expr.op == "param":
        return param_of(str(expr.param))
    if expr.op == "const":
        assert expr.value is not None
        text = number_text(expr.value)
        if "." not in text and "e" not in text and "inf" not in text:
            text += ".0"
        return text
    operands = [render(a, template_of, xp=xp, param_of=param_of) for a in expr.args]
    fields = {"xp": xp, "beta": param_of(str(expr.param)) if expr.param else ""}
    if expr.value is not None:
        fields["n"] = str(int(expr.value))
    return _fill(template_of(expr.op), operands, fields)


def torch_template(op: str) -> str:
    return OPERATORS[op].torch


def numpy_template(op: str) -> str:
    return OPERATORS[op].numpy


def helpers_used(source: str, helpers: dict[str, str]) -> list[str]:
    """The helper definitions whose names occur in ``source``, in a fixed order."""
    return [helpers[name] for name in sorted(helpers) if re.search(rf"\b{name}\(", source)]
