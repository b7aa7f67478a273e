"""An operator's C form: the templates the fused CPU and CUDA kernels are written from.

An operator record (``space._operators.Operator``) carries its C form in ``c``; one form serves
both targets, because both kernels run the same expression tape (``space._tape``) and differ
only in their runtimes (``space/c/``): the C translation unit defines the ``as_*`` helpers as
always-inlined functions, the CUDA jiterator function as lambdas. A template may call

* the C maths functions (``sinf``, ``expf``…: on the CPU they resolve to glibc's vector maths
  library, on the GPU to CUDA's);
* the runtime's helpers, written once per target in ``space/c/``: ``as_select``, ``as_min``,
  ``as_max``, ``as_clamp``, ``as_in`` (torch.clamp's gradient), ``as_exp``, ``as_expm1``,
  ``as_sign``, ``as_sigmoid``;
* helpers of its own, :class:`CHelper`, which the operator lists in :attr:`COp.helpers`: a
  generated source defines the helpers of the operators it uses, once each, in both targets.

The C code computes the *guarded* function (the torch template), with PyTorch's derivative
conventions; the contract tests (``tests/evaluator/test_fused.py``, and
``tests/space/test_cuda_source.py`` for the CUDA form) check every operator's values and
gradients against its torch code.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Callable
from dataclasses import dataclass


def c_float(value: float) -> str:
    """A float literal in C (single precision)."""
    if math.isinf(value):
        return "INFINITY" if value > 0 else "(-INFINITY)"
    if math.isnan(value):
        return "NAN"
    return f"((float){value!r})"


def c_power(a: str, n: int) -> str:
    """``a**n`` (n >= 1) as products by repeated squaring: libmvec's powf takes a scalar path
    for negative bases, 5x slower."""
    if n == 1:
        return a
    half = c_power(a, n // 2)
    square = f"({half} * {half})"
    return f"({square} * {a})" if n % 2 else square


@dataclass(frozen=True)
class CHelper:
    """A ``float`` function that an operator's templates call: ``name(params)`` whose body is
    the C statements ``body`` (without braces), in both targets unless ``cuda_body`` gives the
    GPU its own (where a branch costs nothing). A body without a line break is written on the
    function's line. ``doc`` becomes a comment above it."""

    name: str
    params: str
    body: str
    cuda_body: str | None = None
    doc: str = ""

    def c_source(self) -> str:
        """The helper as an always-inlined C function (``AS_INLINE`` is the runtime's)."""
        return _comment(self.doc, "") + _function(f"AS_INLINE float {self.name}({self.params})", self.body, "", "")

    def cuda_source(self) -> str:
        """The helper as a lambda in the body of the jiterator function (indented by 4)."""
        body = self.body if self.cuda_body is None else self.cuda_body
        return _comment(self.doc, "    ") + _function(f"    auto {self.name} = [&]({self.params}) -> float", body,
                                                       "    ", ";")


def _comment(doc: str, indent: str) -> str:
    return f"{indent}/* {doc} */\n" if doc else ""


def _function(head: str, body: str, indent: str, end: str) -> str:
    if "\n" not in body:  # a one-liner
        return f"{head} {{ {body.strip()} }}{end}"
    lines = textwrap.dedent(body).strip("\n").splitlines()
    inner = "".join(f"\n{indent}    {line}" for line in lines)
    return f"{head} {{{inner}\n{indent}}}{end}"


@dataclass(frozen=True)
class COp:
    """An operator in C: ``value(a, b, beta, n)`` is its value and ``partials(y, a, b, beta, n)``
    its partial derivatives with respect to each operand, then β (if it carries one). Operands
    are names of local variables, so a template may repeat them freely; ``y`` names the value;
    ``n`` is ``powi``'s exponent. ``helpers``: the :class:`CHelper` functions the templates call
    beyond the runtime's."""

    value: Callable[..., str]
    partials: Callable[..., tuple[str, ...]]
    helpers: tuple[CHelper, ...] = ()


def c_unary(value: str, partial: str, *helpers: CHelper) -> COp:
    """The C form of a unary operator from two ``str.format`` templates: ``{a}`` is the
    operand, ``{y}`` (in ``partial``) the value."""
    return COp(lambda a, b, beta, n: value.format(a=a),
               lambda y, a, b, beta, n: (partial.format(a=a, y=y),), helpers)
