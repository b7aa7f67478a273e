"""``evolution`` — regularized (aging) evolution.

Real et al. 2019, "Regularized Evolution for Image Classifier Architecture Search": keep a
population of the ``population`` most recent results; to propose, sample ``tournament`` members
at random, mutate the best of them (:meth:`space.Space.mutate`: one operator replaced, an input
rewired, a unit inserted or removed — the mutations of "Discovering Parametric Activation
Functions", Bingham & Miikkulainen 2022); every result joins the population and pushes out the
**oldest** member, not the worst.

The winner gets ``children`` mutations (default 2) and the one whose weakest part has the best
record so far is proposed (:mod:`search._structure`: parts are the expression's edges, scored by
rejections and fitness ranks). That is surrogate pre-selection of offspring: in a space where
most functions are rejected, evolution learns which edges lead there instead of walking into them
(67 % of plain evolution's proposals were rejected on the default-fitness table). ``children: 1``
is the paper's algorithm. Aging is the regularizer: a function survives only by being
re-discovered through its children, so a lucky (noisy) fitness cannot dominate for ever.

* Until ``population`` results are in, proposals are uniform samples of the space. With several
  evaluations in flight a few more random samples than ``population`` may go out; that is the
  asynchronous variant of the paper (workers never wait).
* Rejected or failed candidates (fitness None) join with fitness −inf: they are never chosen as
  parents while anything else is in the sample, and they age out like everyone else.
* A child equal (by fingerprint) to a function already evaluated is not trained again: the base
  class reports the known fitness at once and the child joins the population with it — the
  functional-equivalence cache of AutoML-Zero (Real et al. 2020).
* ``multi_objective=True`` — fitness against activation cost (``Result.cost``, or the
  expression's operator cost when the evaluator gives none). The parent is drawn uniformly
  among the members of the tournament sample that no other member of the sample dominates
  (higher-or-equal fitness *and* lower-or-equal cost, one strictly): a Pareto tournament.
  Rejected members only enter that front when the whole sample is rejected.
* Several tasks: the controller ranks by the one ``fitness`` it is told, so a job over several
  tasks reports an aggregate (e.g. the mean or the worst task's normalized fitness, as EvoNorm —
  Liu et al. 2020, "Evolving Normalization-Activation Layers" — selects across architectures).
  Per-task Pareto selection would need per-task values in :class:`~search.Result`; not yet.

Example:
    >>> from space import Space
    >>> from search import Result
    >>> ctrl = Evolution(Space(unary=("x", "sigmoid", "tanh"), binary=("mul", "add")),
    ...                  population=4, tournament=2, seed=1)
    >>> batch = ctrl.ask(4)
    >>> ctrl.tell([Result(e, float(i)) for i, e in enumerate(batch)])
    >>> len(ctrl.ask(2))  # children of tournament winners now
    2
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from typing import Any

from search._base import Controller, ControllerError, Result
from search._params import check_int
from search._registry import register
from search._structure import StructureRecord
from space import Candidate, Space, fingerprint

Member = tuple[Candidate, float, float]  # genome, fitness (−inf: rejected), cost


@register
class Evolution(Controller):
    name = "evolution"

    def __init__(
        self,
        space: Space,
        *,
        seed: int = 0,
        population: int = 32,  # the JobSpec example's size; the paper used 100 on large budgets
        tournament: int = 8,  # a quarter of the population: selective, yet not greedy
        multi_objective: bool = False,
        children: int = 2,  # 2 beat 3 and 4 (fewer missed runs) and 1 (no screening): docs/search.md
    ) -> None:
        super().__init__(space, seed=seed)
        check_int("evolution", "population", population, 2, 100_000)
        check_int("evolution", "tournament", tournament, 1, 100_000)
        check_int("evolution", "children", children, 1, 1_000)
        if tournament > population:
            raise ControllerError(f"tournament must be at most population ({population}), got {tournament}")
        if not isinstance(multi_objective, bool):
            raise ControllerError(f"multi_objective must be true or false, got {multi_objective!r}")
        self.population = population
        self.tournament = tournament
        self.multi_objective = multi_objective
        self.children = children
        self._record = StructureRecord()
        self._observed: dict[Candidate, int] = {}  # genome -> times observed: the record's state
        self._members: list[Member] = []  # oldest first
        self._costs: dict[str, float] = {}  # fingerprint -> cost reported (multi-objective only)

    def _propose(self, rng: random.Random) -> Candidate:
        if len(self._members) < self.population:
            return self.space.sample(rng)
        sample = [self._members[i] for i in rng.sample(range(len(self._members)), self.tournament)]
        if self.multi_objective:
            parent = rng.choice(_pareto_front(sample))
        else:
            parent = max(sample, key=lambda m: m[1])  # ties: the first in (random) sample order
        children = [self.space.mutate(parent[0], rng) for _ in range(self.children)]
        if len(children) == 1:
            return children[0]
        # ties: the first child drawn
        return max(children, key=lambda child: self._record.score(self.space.to_expr(child)))

    def _observe_result(self, candidate: Candidate, result: Result) -> None:
        if self.multi_objective and result.cost is not None:
            self._costs[fingerprint(result.expr)] = float(result.cost)
        self._observe(candidate, result.fitness)

    def _observe(self, candidate: Candidate, fitness: float | None) -> None:
        expr = self.space.to_expr(candidate)
        cost = self._costs.get(fingerprint(expr), expr.cost) if self.multi_objective else expr.cost
        value = -math.inf if fitness is None or math.isnan(fitness) else float(fitness)
        # a re-discovered function counts again, in the record as in the population: what evolution
        # keeps re-proposing weighs more (counted once: 0.39 of random on the default table, not 0.32)
        self._observed[candidate] = self._observed.get(candidate, 0) + 1
        self._record.add(expr, fitness)
        self._members.append((candidate, value, cost))
        if len(self._members) > self.population:
            self._members.pop(0)  # the oldest dies, however good it was

    def _state(self) -> dict[str, Any]:
        return {
            "members": [[self.space.candidate_to_json(c), None if f == -math.inf else f, cost]
                        for c, f, cost in self._members],
            "costs": dict(self._costs),
            "observed": [[self.space.candidate_to_json(c), n] for c, n in self._observed.items()],
        }

    def _load(self, state: dict[str, Any]) -> None:
        self._members = [(self.space.candidate_from_json(c), -math.inf if f is None else float(f), float(cost))
                         for c, f, cost in state["members"]]
        self._costs = {k: float(v) for k, v in state["costs"].items()}
        # a state saved before children were screened has no record: it starts afresh
        self._observed = {self.space.candidate_from_json(c): int(n) for c, n in state.get("observed", [])}
        self._record = StructureRecord()  # depends on what was observed, not in which order
        for candidate, times in self._observed.items():
            expr = self.space.to_expr(candidate)
            for _ in range(times):
                self._record.add(expr, self._results[fingerprint(expr)])


def _pareto_front(sample: Sequence[Member]) -> list[Member]:
    """Members of ``sample`` not dominated by another (max fitness, min cost), in sample order."""
    alive = [m for m in sample if m[1] > -math.inf] or list(sample)

    def dominates(a: Member, b: Member) -> bool:
        return a[1] >= b[1] and a[2] <= b[2] and (a[1] > b[1] or a[2] < b[2])

    return [m for m in alive if not any(dominates(o, m) for o in alive)]
