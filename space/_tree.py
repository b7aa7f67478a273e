"""Free-form expression trees under size and depth limits (Bingham et al. 2020 style).

Trees are built from the space's unary and binary operators over the leaves ``x``, ``beta``
(when the space has the ``beta`` operator) and the space's constants. No operator node has only
constant operands (that would fold into a constant), so every syntactic tree counted here is
an expression that can exist. Parameters are renumbered ``beta, beta1, …`` in order of first
appearance, one per β occurrence.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from space._core import param_name
from space._expr import Expr, X, call, const, param
from space._operators import OPERATORS


@dataclass(frozen=True)
class TreeGrammar:
    unary: tuple[str, ...]  # tree-node unary operators (``x`` and ``beta`` are not nodes)
    binary: tuple[str, ...]
    constants: tuple[float, ...]
    with_beta_leaf: bool
    max_size: int
    max_depth: int

    @classmethod
    def of(cls, unary: Sequence[str], binary: Sequence[str], constants: Sequence[float],
           max_size: int, max_depth: int) -> TreeGrammar:
        return cls(
            tuple(u for u in unary if OPERATORS[u].in_tree), tuple(binary),
            tuple(constants), "beta" in unary, max_size, max_depth,
        )

    # -- counting: variable trees V(d, s) (containing x or a parameter); constants are leaves
    @functools.cached_property
    def _var_leaves(self) -> int:
        return 1 + int(self.with_beta_leaf)

    @functools.cache  # noqa: B019 - the grammar is immutable and small
    def count_var(self, depth: int, size: int) -> int:
        """Trees with depth <= ``depth`` and exactly ``size`` nodes that contain x or β."""
        if depth < 1 or size < 1:
            return 0
        if size == 1:
            return self._var_leaves
        total = len(self.unary) * self.count_var(depth - 1, size - 1)
        n_const = len(self.constants)
        for left in range(1, size - 1):
            right = size - 1 - left
            v_l, v_r = self.count_var(depth - 1, left), self.count_var(depth - 1, right)
            c_l, c_r = n_const * (left == 1), n_const * (right == 1)
            total += len(self.binary) * (v_l * v_r + v_l * c_r + c_l * v_r)
        return total

    def count(self) -> int:
        return sum(self.count_var(self.max_depth, s) for s in range(1, self.max_size + 1))

    # -- enumeration in a fixed order (size, then structure)
    def enumerate(self) -> Iterator[Expr]:
        for size in range(1, self.max_size + 1):
            for tree in self._trees(self.max_depth, size):
                yield renumber_params(tree)

    def _leaves(self) -> list[Expr]:
        return [X] + ([param("beta")] if self.with_beta_leaf else [])

    def _trees(self, depth: int, size: int) -> Iterator[Expr]:
        if depth < 1 or size < 1:
            return
        if size == 1:
            yield from self._leaves()
            return
        for op in self.unary:
            for arg in self._trees(depth - 1, size - 1):
                yield call(op, arg)
        for left in range(1, size - 1):
            right = size - 1 - left
            for op in self.binary:
                for a, b in self._operand_pairs(depth - 1, left, right):
                    yield call(op, a, b)

    def _operand_pairs(self, depth: int, left: int, right: int) -> Iterator[tuple[Expr, Expr]]:
        consts = [const(c) for c in self.constants]
        for a in self._trees(depth, left):
            for b in self._trees(depth, right):
                yield a, b
            if right == 1:
                for c in consts:
                    yield a, c
        if left == 1:
            for c in consts:
                for b in self._trees(depth, right):
                    yield c, b

    # -- sampling
    def sample(self, rng: random.Random) -> Expr:
        """A random tree: grow to a random target size, uniformly over operators."""
        target = rng.randint(1, self.max_size)
        return renumber_params(self._grow(rng, self.max_depth, target))

    def _grow(self, rng: random.Random, depth: int, budget: int) -> Expr:
        if depth <= 1 or budget <= 1 or not (self.unary or self.binary):
            return rng.choice(self._leaves())
        use_binary = self.binary and budget >= 3 and (not self.unary or rng.random() < 0.5)
        if use_binary:
            op = rng.choice(self.binary)
            left_budget = rng.randint(1, budget - 2)
            a = self._grow(rng, depth - 1, left_budget)
            if self.constants and rng.random() < 0.25:
                b: Expr = const(rng.choice(self.constants))
            else:
                b = self._grow(rng, depth - 1, budget - 1 - left_budget)
            return call(op, *((a, b) if rng.random() < 0.5 else (b, a)))
        return call(rng.choice(self.unary), self._grow(rng, depth - 1, budget - 1))

    def contains(self, expr: Expr) -> bool:
        if expr.size > self.max_size or expr.depth > self.max_depth:
            return False
        for node in expr.walk():
            if node.op == "param" and not self.with_beta_leaf:
                return False
            if node.op == "const" and node.value not in self.constants:
                return False
            if node.op not in ("x", "const", "param") and node.op not in self.unary + self.binary:
                return False
        return True

    # -- mutation
    def mutate(self, expr: Expr, rng: random.Random, attempts: int = 50) -> Expr:
        """Replace an operator, insert a node, remove a node, perturb a constant or regrow a
        subtree (Bingham & Miikkulainen 2022's mutations); always a valid, different tree when
        one is found within ``attempts``."""
        for _ in range(attempts):
            nodes = list(expr.walk())
            target = rng.randrange(len(nodes))
            kind = rng.choice(("replace", "insert", "remove", "constant", "regrow"))
            try:
                new = _rewrite_at(expr, target, functools.partial(self._mutate_node, kind=kind, rng=rng))
            except ValueError:  # e.g. a regrown subtree that folds to an invalid constant
                continue
            new = renumber_params(new) if new is not None else None
            if new is not None and new != expr and self.contains(new):
                return new
        return expr

    def _mutate_node(self, node: Expr, kind: str, rng: random.Random) -> Expr | None:
        if kind == "replace" and node.args:
            pool = self.unary if len(node.args) == 1 else self.binary
            choices = [op for op in pool if op != node.op]
            return call(rng.choice(choices), *node.args) if choices else None
        if kind == "insert" and self.unary:
            return call(rng.choice(self.unary), node) if node.op != "const" else None
        if kind == "remove" and node.args:
            keep = [a for a in node.args if a.op != "const"]
            return rng.choice(keep) if keep else None
        if kind == "constant" and node.op == "const" and len(self.constants) > 1:
            return const(rng.choice([c for c in self.constants if c != node.value]))
        if kind == "regrow" and node.op != "const":
            return self._grow(rng, max(1, self.max_depth // 2), rng.randint(1, max(1, self.max_size // 3)))
        return None


def _rewrite_at(expr: Expr, index: int, change: Callable[[Expr], Expr | None]) -> Expr | None:
    """``expr`` with its ``index``-th pre-order node replaced by ``change(node)``; None when
    the change does not apply or leaves an invalid tree."""
    if index == 0:
        return change(expr)
    index -= 1
    for i, arg in enumerate(expr.args):
        if index < arg.size:
            new = _rewrite_at(arg, index, change)
            if new is None:
                return None
            args = list(expr.args)
            args[i] = new
            try:
                return call(expr.op, *args, param=expr.param, exponent=expr.value)
            except ValueError:
                return None
        index -= arg.size
    raise IndexError(index)


def renumber_params(expr: Expr) -> Expr:
    """One fresh parameter per β occurrence, named ``beta, beta1, …`` in pre-order."""
    counter = 0

    def visit(e: Expr) -> Expr:
        nonlocal counter
        name = None
        if e.param is not None:
            name = param_name(counter)
            counter += 1
        if e.op == "param":
            return param(str(name))
        args = tuple(visit(a) for a in e.args)
        return call(e.op, *args, param=name, exponent=e.value) if e.op not in ("x", "const") else e

    return visit(expr)
