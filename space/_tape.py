"""An expression as straight-line C statements: its value and, by reverse-mode differentiation
of the same tree, its local derivatives. The CPU kernels (``space._c_source``) and the CUDA
kernel (``space._cuda_source``) are both written from it, with the operators' C forms
(``Operator.c``, see ``space._c_form``).

Names in the statements: ``x`` is the input, ``p<k>`` the expression's k-th parameter (in
``Expr.params()`` order), ``v<i>`` the i-th node; adjoints are ``g_<name>``, seeded with a
variable ``gy`` that the caller declares.
"""

from __future__ import annotations

from collections.abc import Sequence

from space._c_form import CHelper, COp, c_float
from space._expr import Expr
from space._operators import OPERATORS

LEAVES = ("x", "param", "const")


def c_form(op: str) -> COp | None:
    """The C form of operator ``op``, or None (an unknown operator, or one without)."""
    spec = OPERATORS.get(op)
    return spec.c if spec is not None else None


def has_c_form(expr: Expr) -> bool:
    """Whether every operator of ``expr`` has a C form."""
    return all(c_form(n.op) is not None for n in expr.walk() if n.op not in LEAVES)


def helpers(exprs: Sequence[Expr]) -> list[CHelper]:
    """The helper functions the C forms of ``exprs``' operators call, once each, in operator
    order (``OPERATORS``) and each operator's own order."""
    used = {n.op for e in exprs for n in e.walk()}
    out: dict[str, CHelper] = {}
    for name, op in OPERATORS.items():
        if name in used and op.c is not None:
            for helper in op.c.helpers:
                if out.setdefault(helper.name, helper) != helper:
                    raise ValueError(f"two C helpers named {helper.name!r} differ (operator {name!r})")
    return list(out.values())


class Tape:
    """One expression as straight-line code: nodes in evaluation order, shared sub-trees once."""

    def __init__(self, expr: Expr) -> None:
        self.params = expr.params()
        self.names: dict[Expr, str] = {}
        self.nodes: list[Expr] = []
        self._visit(expr)
        self.root = self.names[expr]

    def _visit(self, node: Expr) -> None:
        if node in self.names:
            return
        for arg in node.args:
            self._visit(arg)
        if node.op == "x":
            self.names[node] = "x"
        elif node.op == "param":
            self.names[node] = f"p{self.params.index(str(node.param))}"
        elif node.op == "const":
            assert node.value is not None
            self.names[node] = c_float(node.value)
        else:
            self.names[node] = f"v{len(self.nodes)}"
            self.nodes.append(node)

    def _operands(self, node: Expr) -> tuple[str, str, str, float]:
        args = [self.names[a] for a in node.args] + ["", ""]
        beta = f"p{self.params.index(node.param)}" if node.param else ""
        return args[0], args[1], beta, node.value if node.value is not None else 0.0

    @staticmethod
    def _form(node: Expr) -> COp:
        form = c_form(node.op)
        if form is None:
            raise ValueError(f"operator {node.op!r} has no C form")
        return form

    def forward_lines(self) -> list[str]:
        lines = []
        for node in self.nodes:
            a, b, beta, n = self._operands(node)
            lines.append(f"const float {self.names[node]} = {self._form(node).value(a, b, beta, n)};")
        return lines

    def backward_lines(self) -> list[str]:
        """Adjoints ``g_<name>``: seeded with ``gy`` at the root, pushed to the leaves."""
        lines = ["float g_x = 0.0f;"]
        lines += [f"float g_p{k} = 0.0f;" for k in range(len(self.params))]
        lines += [f"float g_{self.names[node]} = 0.0f;" for node in self.nodes]
        if self.root == "x" or self.root.startswith("p"):
            lines.append(f"g_{self.root} += gy;")
        elif self.root.startswith("v"):
            lines.append(f"g_{self.root} = gy;")
        for node in reversed(self.nodes):
            name = self.names[node]
            a, b, beta, n = self._operands(node)
            partials = self._form(node).partials(name, a, b, beta, n)
            targets = [self.names[arg] for arg in node.args] + ([beta] if beta else [])
            for target, partial in zip(targets, partials, strict=True):
                if target == "x" or target.startswith(("v", "p")):
                    lines.append(f"g_{target} += g_{name} * ({partial});")
        return lines
