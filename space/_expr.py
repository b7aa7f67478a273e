"""Expressions: immutable trees over ``x``, operators, constants and β parameters.

One node type, as in micrograd: ``Expr(op, args, value, param)``.

* ``op == "x"`` – the pre-activation input;
* ``op == "const"`` – a finite float ``value``;
* ``op == "param"`` – a trainable per-channel parameter called ``param`` (``beta``, ``beta1``…);
* otherwise ``op`` names an operator of the registry, ``args`` are its operands, ``param`` names
  the β of an operator that carries one, ``value`` is the exponent of ``powi``.

Build nodes with :func:`call`, which validates and folds constant sub-expressions; expressions
are hashable, totally ordered and round-trip through JSON and through their text form.

Example:
    >>> e = call("mul", X, call("sigmoid", X))
    >>> str(e)
    'x * sigmoid(x)'
    >>> Expr.from_json(e.to_json()) == e
    True
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from space._operators import OPERATORS

PARAM_NAME = re.compile(r"beta[0-9]{0,3}")
MAX_EXPONENT = 8  # x^8 at |x| = 1e4 is 1e32, below the fp32 maximum 3.4e38
MAX_CONSTANT = 1e6
LEAVES = ("x", "const", "param")


class ExprError(ValueError):
    """An expression node that cannot exist (unknown operator, wrong arity, bad constant)."""


@dataclass(frozen=True)
class Expr:
    op: str
    args: tuple[Expr, ...] = ()
    value: float | None = None
    param: str | None = None
    _hash: int = field(default=0, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _validate(self)
        object.__setattr__(self, "_hash", hash((self.op, self.args, self.value, self.param)))

    def __hash__(self) -> int:
        return self._hash

    # -- ordering: a total order so that sets of expressions sort deterministically
    def sort_key(self) -> tuple[Any, ...]:
        return (
            self.op,
            -1e300 if self.value is None else self.value,
            self.param or "",
            tuple(a.sort_key() for a in self.args),
        )

    def __lt__(self, other: Expr) -> bool:
        return self.sort_key() < other.sort_key()

    # -- structure
    def walk(self) -> Iterator[Expr]:
        """Pre-order traversal of every node."""
        yield self
        for arg in self.args:
            yield from arg.walk()

    @property
    def size(self) -> int:
        return sum(1 for _ in self.walk())

    @property
    def depth(self) -> int:
        return 1 + max((a.depth for a in self.args), default=0)

    def params(self) -> tuple[str, ...]:
        """Parameter names in order of first appearance."""
        seen: dict[str, None] = {}
        for node in self.walk():
            if node.param is not None:
                seen.setdefault(node.param, None)
        return tuple(seen)

    def param_inits(self) -> dict[str, float]:
        """Initial value of each parameter: that of the first operator carrying it, else 1."""
        inits: dict[str, float] = {}
        for node in self.walk():
            if node.param is None:
                continue
            init = OPERATORS[node.op].beta_init if node.op in OPERATORS else 1.0
            inits.setdefault(node.param, init)
        return inits

    def operators(self) -> tuple[str, ...]:
        """Operator names used, sorted, without repetition."""
        return tuple(sorted({n.op for n in self.walk() if n.op not in LEAVES}))

    def depends_on_x(self) -> bool:
        return any(n.op == "x" for n in self.walk())

    @property
    def cost(self) -> float:
        return sum(OPERATORS[n.op].cost for n in self.walk() if n.op in OPERATORS)

    # -- serialisation
    def to_json(self) -> Any:
        """Nested plain data: ``"x"``, a number, ``{"param": name}`` or ``{"op", "args"…}``."""
        if self.op == "x":
            return "x"
        if self.op == "const":
            return self.value
        if self.op == "param":
            return {"param": self.param}
        out: dict[str, Any] = {"op": self.op, "args": [a.to_json() for a in self.args]}
        if self.param is not None:
            out["param"] = self.param
        if self.value is not None:
            out["value"] = self.value
        return out

    @classmethod
    def from_json(cls, data: Any) -> Expr:
        if data == "x":
            return X
        if isinstance(data, bool):
            raise ExprError(f"not an expression: {data!r}")
        if isinstance(data, int | float):
            return const(float(data))
        if isinstance(data, dict) and set(data) == {"param"}:
            return param(data["param"])
        if isinstance(data, dict) and "op" in data and set(data) <= {"op", "args", "param", "value"}:
            args = data.get("args", [])
            if not isinstance(args, list):
                raise ExprError(f"'args' must be a list, got {type(args).__name__}")
            return call(
                str(data["op"]),
                *(cls.from_json(a) for a in args),
                param=data.get("param"),
                exponent=data.get("value"),
            )
        raise ExprError(f"not an expression: {data!r}")

    def __str__(self) -> str:
        from space._printer import to_text

        return to_text(self)


def _validate(node: Expr) -> None:
    if node.op == "x":
        ok = not node.args and node.value is None and node.param is None
    elif node.op == "const":
        ok = not node.args and node.param is None and node.value is not None
        if ok and not (math.isfinite(node.value) and abs(node.value) <= MAX_CONSTANT):  # type: ignore[arg-type]
            raise ExprError(f"constant {node.value!r} is not finite or exceeds {MAX_CONSTANT:g}")
    elif node.op == "param":
        ok = not node.args and node.value is None and node.param is not None
    elif node.op in OPERATORS:
        spec = OPERATORS[node.op]
        if not spec.in_tree:
            raise ExprError(f"operator {node.op!r} is folded away and cannot be a tree node")
        if len(node.args) != spec.arity:
            raise ExprError(f"{node.op} takes {spec.arity} argument(s), got {len(node.args)}")
        if spec.has_beta != (node.param is not None):
            raise ExprError(f"{node.op} {'needs' if spec.has_beta else 'takes no'} parameter")
        if (node.op == "powi") != (node.value is not None):
            raise ExprError("only powi carries an exponent")
        ok = True
    else:
        raise ExprError(f"unknown operator {node.op!r}")
    if not ok:
        raise ExprError(f"malformed {node.op} node")
    if node.param is not None and not PARAM_NAME.fullmatch(node.param):
        raise ExprError(f"parameter name {node.param!r} must look like beta, beta1, beta2…")
    if node.op == "powi":
        n = node.value
        if n is None or n != int(n) or not 4 <= n <= MAX_EXPONENT:
            raise ExprError(f"powi exponent must be an integer with 4 <= n <= {MAX_EXPONENT}")


X = Expr("x")


def const(value: float) -> Expr:
    return Expr("const", value=float(value) + 0.0)  # + 0.0 turns -0.0 into 0.0


def param(name: str = "beta") -> Expr:
    return Expr("param", param=name)


def call(op: str, *args: Expr, param: str | None = None, exponent: float | None = None) -> Expr:
    """Builds an operator node, folding the vocabulary-only operators and constant operands.

    ``x(u)`` is ``u``; ``beta(u)`` is the parameter leaf; an operator without β applied to
    constants becomes the constant it evaluates to (float64).
    """
    if op == "x":
        if len(args) != 1:
            raise ExprError(f"x takes 1 argument, got {len(args)}")
        return args[0]
    if op == "beta":
        return Expr("param", param=param or "beta")
    spec = OPERATORS.get(op)
    if spec is not None and spec.has_beta and param is None:
        param = "beta"
    node = Expr(op, tuple(args), None if exponent is None else float(exponent), param)
    if spec is not None and args and all(a.op == "const" for a in args):
        if spec.has_beta:
            # a function of beta alone: write it with beta itself (2 * beta, not beta_mul(2))
            raise ExprError(f"{op} is applied to constants only; write it in terms of beta")
        return _fold(node)
    return node


def _fold(node: Expr) -> Expr:
    operands = [np.float64(a.value) for a in node.args]
    if node.op == "powi":
        operands.append(np.float64(node.value))
    with np.errstate(all="ignore"):
        value = float(OPERATORS[node.op].reference(*operands))
    if not math.isfinite(value) or abs(value) > MAX_CONSTANT:
        raise ExprError(f"constant sub-expression {node.op}(...) evaluates to {value!r}")
    return const(value)
