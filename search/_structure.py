"""What the results so far say about the parts of a function: a record that screens children.

A function's *parts* are its root operator and every edge of its expression tree, an edge being
(operator, argument position, the operand's operator). ``sigmoid_mul(sqrt(x), sin(x))`` has the
parts ``sigmoid_mul``, ``sigmoid_mul/0/sqrt``, ``sigmoid_mul/1/sin``, ``sqrt/0/x`` and ``sin/0/x``.

Every observation scores its function's parts: 0 when the function was rejected or failed,
otherwise its fitness rank among the distinct trained functions so far, in (0, 1] (ranks, so that
one outlier does not set the scale). A part's score is the mean over the observations of functions
that contain it, shrunk towards the mean over all observations by :data:`PRIOR_WEIGHT`
pseudo-observations, so a part seen once is not trusted alone. A function observed again (a
controller re-discovered it) counts again: what a search keeps returning to weighs more. A
function's score is its weakest part's: one edge that always led to rejection (``exp`` under a
product, say) condemns it, whatever the rest looks like.

This is surrogate pre-selection of offspring (Jin 2011, "Surrogate-assisted evolutionary
computation"): a controller draws a few children and proposes the one the record likes best, so
it learns which parts lead to rejections and poor scores — what tpe's factorised model learns —
while keeping evolution's locality. Edges, not bare operators: whether ``sin`` helps depends on
where it sits (``sigmoid_mul(u, sin x)`` gates, ``sigmoid_mul(sin x, u)`` does not). On the
default-fitness table screening took evolution from 0.42 to 0.32 of random search's evaluations
to a top-5 function (bare operators as parts: 0.35); docs/search.md has the figures.
"""

from __future__ import annotations

import bisect
import math
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
    """Observed functions by part; :meth:`score` rates an untried function (higher: more promising).

    Memory and time grow with the distinct functions observed, not with the observations: a
    search that keeps re-discovering known functions (a nearly exhausted space) updates counts.

    Example:
        >>> from space import parse
        >>> record = StructureRecord()
        >>> record.add(parse("x*sigmoid(x)"), 0.9)
        >>> record.add(parse("exp(x)*x"), None)
        >>> record.score(parse("tanh(x)*sigmoid(x)")) > record.score(parse("exp(x)*tanh(x)"))
        True
    """

    def __init__(self) -> None:
        self._trained: list[float] = []  # one fitness per distinct trained function, sorted
        self._fitness: dict[Expr, float | None] = {}  # each distinct function observed
        self._count: dict[Expr, int] = {}  # times observed
        self._by_part: dict[Part, list[Expr]] = {}  # part -> the distinct functions with it
        self._observations = 0
        # (sum of ranks, observations) per part and the sum of ranks overall; kept up to date by a
        # repeated or rejected function, recomputed lazily after a new trained function moves every
        # rank. Integers, so that the sums do not depend on the order of the observations: a record
        # rebuilt from saved counts scores exactly as the original (exact resume)
        self._sums: dict[Part, tuple[int, int]] = {}
        self._total: int | None = None

    def __len__(self) -> int:
        return self._observations

    def add(self, expr: Expr, fitness: float | None) -> None:
        """Record one observation; ``fitness`` None (or not finite) means rejected or failed."""
        value = fitness if fitness is not None and math.isfinite(fitness) else None
        self._observations += 1
        known = expr in self._fitness
        if not known:
            self._fitness[expr] = value
            self._count[expr] = 0
            for part in parts(expr):
                self._by_part.setdefault(part, []).append(expr)
        self._count[expr] += 1
        if value is not None and not known:
            bisect.insort(self._trained, value)
            self._sums.clear()  # every trained function's rank moved
            self._total = None
            return
        rank = self._rank(self._fitness[expr])
        for part in parts(expr):
            if part in self._sums:
                total, n = self._sums[part]
                self._sums[part] = (total + rank, n + 1)
        if self._total is not None:
            self._total += rank

    def score(self, expr: Expr) -> float:
        """The score of ``expr``'s weakest part, in [0, 1] (0.5 while nothing is known)."""
        if not self._observations:
            return 0.5
        if self._total is None:
            self._total = sum(n * self._rank(self._fitness[e]) for e, n in self._count.items())
        scale = max(1, len(self._trained))  # a rank over this is the utility, in (0, 1]
        prior = self._total / scale / self._observations
        return min(self._part_score(part, prior, scale) for part in parts(expr))

    def _rank(self, fitness: float | None) -> int:
        """1 for the worst distinct trained function ... len(trained) for the best; 0 rejected."""
        return 0 if fitness is None else bisect.bisect_right(self._trained, fitness)

    def _part_score(self, part: Part, prior: float, scale: int) -> float:
        sums = self._sums.get(part)
        if sums is None:
            functions = self._by_part.get(part, [])
            sums = self._sums[part] = (sum(self._count[e] * self._rank(self._fitness[e]) for e in functions),
                                       sum(self._count[e] for e in functions))
        total, n = sums
        return (total / scale + PRIOR_WEIGHT * prior) / (n + PRIOR_WEIGHT)
