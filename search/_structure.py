"""What the results so far say about the parts of a function: a record that screens children.

A function's *parts* are its root operator and every edge of its expression tree, an edge being
(operator, argument position, the operand's operator). ``sigmoid_mul(sqrt(x), sin(x))`` has the
parts ``sigmoid_mul``, ``sigmoid_mul/0/sqrt``, ``sigmoid_mul/1/sin``, ``sqrt/0/x`` and ``sin/0/x``.

Every told result scores its parts: 0 when the function was rejected or failed, otherwise its
fitness rank among the trained results so far, in (0, 1] (ranks, so that one outlier does not
set the scale). A part's score is the mean over the results that contain it, shrunk towards the
mean over all results by :data:`PRIOR_WEIGHT` pseudo-results, so a part seen once is not trusted
alone. A function's score is its weakest part's: one edge that always led to rejection (``exp``
under a product, say) condemns it, whatever the rest looks like.

This is surrogate pre-selection of offspring (Jin 2011, "Surrogate-assisted evolutionary
computation"): a controller draws a few children and proposes the one the record likes best, so
it learns which parts lead to rejections and poor scores — what tpe's factorised model learns —
while keeping evolution's locality. Edges, not bare operators: whether ``sin`` helps depends on
where it sits (``sigmoid_mul(u, sin x)`` gates, ``sigmoid_mul(sin x, u)`` does not). On the
default-fitness table the edges took evolution from 0.35 to 0.30 of random search's evaluations
to a top-5 function (operators alone: 0.35; no screening: 0.42); docs/search.md has the figures.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator

from space import Expr

Part = tuple[str, ...]

PRIOR_WEIGHT = 2.0  # pseudo-results at the overall mean that every part's mean starts from


def parts(expr: Expr) -> frozenset[Part]:
    """The root operator and every (operator, argument position, operand's operator) edge."""
    return frozenset(_parts(expr, root=True))


def _parts(node: Expr, *, root: bool) -> Iterator[Part]:
    if root:
        yield (node.op,)
    for i, arg in enumerate(node.args):
        yield (node.op, str(i), arg.op)
        yield from _parts(arg, root=False)


class StructureRecord:
    """Told results by part; :meth:`score` rates an untried function (higher is more promising).

    Example:
        >>> from space import parse
        >>> record = StructureRecord()
        >>> record.add(parse("x*sigmoid(x)"), 0.9)
        >>> record.add(parse("exp(x)*x"), None)
        >>> record.score(parse("tanh(x)*sigmoid(x)")) > record.score(parse("exp(x)*tanh(x)"))
        True
    """

    def __init__(self) -> None:
        self._trained: list[float] = []  # the fitness of every trained result, sorted
        self._by_part: dict[Part, list[float | None]] = {}  # part -> fitness of each result with it
        self._results = 0
        self._cache: dict[Part, float] = {}  # part -> score, until the next result
        self._prior: float | None = None

    def __len__(self) -> int:
        return self._results

    def add(self, expr: Expr, fitness: float | None) -> None:
        """Record one result; ``fitness`` None (or not finite) means rejected or failed."""
        value = fitness if fitness is not None and fitness == fitness and abs(fitness) != float("inf") else None
        for part in parts(expr):
            self._by_part.setdefault(part, []).append(value)
        if value is not None:
            bisect.insort(self._trained, value)
        self._results += 1
        self._cache.clear()
        self._prior = None

    def score(self, expr: Expr) -> float:
        """The score of ``expr``'s weakest part, in [0, 1] (the overall mean when nothing is known)."""
        return min(self._part_score(part) for part in parts(expr))

    def _utility(self, fitness: float | None) -> float:
        return 0.0 if fitness is None else bisect.bisect_right(self._trained, fitness) / len(self._trained)

    def _part_score(self, part: Part) -> float:
        cached = self._cache.get(part)
        if cached is None:
            if self._prior is None:
                self._prior = sum(self._utility(f) for f in self._trained) / self._results if self._results else 0.5
            seen = self._by_part.get(part, [])
            total = sum(self._utility(f) for f in seen)
            cached = self._cache[part] = (total + PRIOR_WEIGHT * self._prior) / (len(seen) + PRIOR_WEIGHT)
        return cached
