"""Code export: one expression, six targets, one small module per target.

Every target is driven by the operator table (``space._operators``) and depends on nothing but
the expression, so the same expression always exports to byte-identical text.

* ``torch`` – a standalone module file (``activation`` + ``Activation(nn.Module)``), exactly
  the source candidates are trained with;
* ``function`` – the functional torch snippet (helpers + ``def activation(x, beta=…)``);
* ``numpy`` / ``jax`` – standalone modules with the same guards as the torch code;
* ``latex`` – the expression as written, in LaTeX;
* ``sympy`` – Python text rebuilding the sympy form and the canonical form.

Example:
    >>> from space import parse
    >>> export(parse("max(x, 0)"), "latex")
    '\\\\max\\\\left(x, 0\\\\right)'
"""

from __future__ import annotations

from collections.abc import Callable

from space._export_jax import jax_source
from space._export_latex import to_latex
from space._export_numpy import numpy_source
from space._export_sympy import sympy_source
from space._expr import Expr
from space._torch import function_source, torch_source

EXPORT_FORMATS: tuple[str, ...] = ("torch", "function", "numpy", "jax", "latex", "sympy")

_EXPORTERS: dict[str, Callable[[Expr], str]] = {
    "torch": torch_source,
    "function": function_source,
    "numpy": numpy_source,
    "jax": jax_source,
    "latex": to_latex,
    "sympy": sympy_source,
}


def export(expr: Expr, fmt: str) -> str:
    """The source of ``expr`` in format ``fmt`` (one of :data:`EXPORT_FORMATS`)."""
    try:
        exporter = _EXPORTERS[fmt]
    except KeyError:
        raise ValueError(
            f"unknown export format {fmt!r}; valid formats: {', '.join(EXPORT_FORMATS)}"
        ) from None
    return exporter(expr)
