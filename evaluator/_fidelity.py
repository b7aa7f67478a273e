"""Multi-fidelity evaluation: spend little on poor candidates, the full budget on good ones.

Every candidate starts on a short budget (rung 0); only the best ``1/eta`` continue — from their
checkpoints, on the *same* one-cycle schedule, so a promoted member ends exactly where training
it straight through would have (tested) — to the next rung, and so on up to the full budget.

* :func:`successive_halving` — synchronous successive halving over one batch (Jamieson &
  Talwalkar 2016, "Non-stochastic Best Arm Identification and Hyperparameter Optimization"):
  each rung is one batched population, so it suits a controller that asks for a batch.
* :class:`AshaScheduler` — the asynchronous rule of ASHA (Li et al. 2018, "A System for
  Massively Parallel Hyperparameter Tuning"): a result is promoted as soon as it is in the top
  ``1/eta`` of the results completed at its rung, so workers never wait for a rung to fill.
  It only keeps books; the search loop trains.

Why rank on short runs at all: on ``mnist1d-mlp`` the low-to-high-fidelity rank correlation is
what makes this safe or not; it is measured and published (DESIGN.md), not assumed.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from evaluator._budget import Budget, RejectionPolicy
from evaluator._result import OK, Fitness, RunResult
from evaluator._task import Task
from evaluator._train import DEFAULT_POLICY, Checkpoint, Member, train_population

log = logging.getLogger(__name__)


def geometric_rungs(max_steps: int, eta: int = 3, count: int = 3) -> tuple[int, ...]:
    """``count`` budgets growing by ``eta`` up to ``max_steps``: ``(333, 1000, 3000)`` for 3000."""
    if eta < 2 or count < 1:
        raise ValueError(f"need eta >= 2 and count >= 1, got eta={eta}, count={count}")
    rungs = [max(1, round(max_steps / eta ** (count - 1 - i))) for i in range(count)]
    return tuple(sorted(set(rungs)))


def _check_rungs(rungs: Sequence[int], eta: int) -> tuple[int, ...]:
    out = tuple(int(r) for r in rungs)
    if eta < 2:
        raise ValueError(f"eta must be at least 2, got {eta}")
    if not out or out[0] < 1 or any(b <= a for a, b in zip(out, out[1:], strict=False)):
        raise ValueError(f"rungs must be positive and strictly increasing, got {list(out)}")
    return out


@dataclass
class CandidateOutcome:
    """Where one candidate (all its seeds) stopped: rung index, steps reached, fitness there."""

    expression: str
    members: tuple[Member, ...]
    rung: int
    steps: int
    fitness: Fitness
    results: list[RunResult]

    def to_json(self) -> dict[str, Any]:
        return {"expression": self.expression, "seeds": [m.seed for m in self.members], "rung": self.rung,
                "steps": self.steps, "fitness": self.fitness.to_json(),
                "runs": [r.to_json() for r in self.results]}


@dataclass
class HalvingResult:
    """Outcomes in input order (one per distinct expression) and what the halving saved.

    ``steps_spent`` counts member-steps actually trained over all rungs; ``full_steps`` is what
    training every member to the last rung would have cost.
    """

    rungs: tuple[int, ...]
    eta: int
    outcomes: list[CandidateOutcome]
    steps_spent: int
    full_steps: int
    wall_time: float
    rung_sizes: list[int] = field(default_factory=list)  # candidates trained at each rung

    @property
    def saving(self) -> float:
        return 1.0 - self.steps_spent / self.full_steps if self.full_steps else 0.0

    def best(self) -> CandidateOutcome | None:
        """The best candidate that reached the last rung (None if every one was rejected)."""
        top = [o for o in self.outcomes if o.rung == len(self.rungs) - 1 and o.fitness.mean is not None]
        return max(top, key=lambda o: o.fitness.mean or -math.inf, default=None)

    def to_json(self) -> dict[str, Any]:
        return {"rungs": list(self.rungs), "eta": self.eta, "steps_spent": self.steps_spent,
                "full_steps": self.full_steps, "saving": self.saving, "wall_time": self.wall_time,
                "rung_sizes": self.rung_sizes, "outcomes": [o.to_json() for o in self.outcomes]}


def _score(fitness: Fitness) -> float:
    """Ranking key: a rejected or failed candidate ranks below every trained one."""
    return fitness.mean if fitness.status == OK and fitness.mean is not None else -math.inf


def successive_halving(
    task: Task,
    members: Sequence[Member],
    *,
    rungs: Sequence[int] | None = None,
    eta: int = 3,
    budget: Budget | None = None,
    policy: RejectionPolicy = DEFAULT_POLICY,
    device: str = "cpu",
    bf16: bool = False,
) -> HalvingResult:
    """Trains every member to ``rungs[0]`` steps, keeps the best ``max(1, n // eta)``
    candidates, continues them from their checkpoints to ``rungs[1]``, … up to ``rungs[-1]``
    (the schedule's horizon; default: :func:`geometric_rungs` of the budget's steps).

    A candidate is an expression; members sharing one (several seeds) are ranked by their
    mean fitness and promoted or stopped together.

    Example:
        >>> from evaluator import get_task, Member
        >>> from space import parse
        >>> out = successive_halving(get_task("mnist1d-mlp"),  # doctest: +SKIP
        ...     [Member(parse(t), 0) for t in ("relu(x)", "tanh(x)", "sin(x)")], rungs=(100, 300))
        >>> out.best().expression, out.saving  # doctest: +SKIP
    """
    budget = budget or task.budget
    rungs = _check_rungs(geometric_rungs(budget.steps, eta) if rungs is None else rungs, eta)
    horizon = rungs[-1]
    groups: dict[str, list[int]] = {}
    for i, m in enumerate(members):
        groups.setdefault(str(m.expr), []).append(i)
    results: dict[int, RunResult] = {}
    reached = [0] * len(members)  # steps each member has been trained
    stopped_at: dict[str, int] = {}
    checkpoints: dict[int, Checkpoint] = {}
    alive = list(groups)
    rung_sizes: list[int] = []
    began = time.perf_counter()
    for r, steps in enumerate(rungs):
        rung_sizes.append(len(alive))
        indices = [i for name in alive for i in groups[name]]
        last = r == len(rungs) - 1
        kwargs: dict[str, Any] = dict(budget=budget, steps=steps, horizon=horizon, policy=policy, device=device,
                                      bf16=bf16, keep_checkpoints=not last)
        if r == 0:
            run = train_population(task, [members[i] for i in indices], **kwargs)
        else:
            run = train_population(task, [], resume=[checkpoints.pop(i) for i in indices], **kwargs)
        for slot, i in enumerate(indices):
            results[i], reached[i] = run.results[slot], reached[i] + run.results[slot].steps
            checkpoint = run.checkpoints[slot]
            if checkpoint is not None:
                checkpoints[i] = checkpoint
        scores = {name: _score(Fitness.of([results[i] for i in groups[name]])) for name in alive}
        for name in alive:
            stopped_at[name] = r
        if last:
            break
        keep = max(1, len(alive) // eta)
        ranked = sorted(alive, key=lambda name: -scores[name])  # stable: ties keep input order
        kept = {name for name in ranked[:keep] if scores[name] > -math.inf}
        alive = [name for name in alive if name in kept]  # input order: populations do not depend on ranks
        log.info("rung %d (%d steps): %d candidates, %d promoted", r, steps, rung_sizes[-1], len(alive))
        for i in [i for i in checkpoints if str(members[i].expr) not in alive]:
            del checkpoints[i]  # free the weights of those that stop here
        if not alive:
            break

    outcomes = []
    for name, idx in groups.items():
        done = [results[i] for i in idx]
        outcomes.append(CandidateOutcome(name, tuple(members[i] for i in idx), stopped_at[name],
                                         max(reached[i] for i in idx), Fitness.of(done), done))
    return HalvingResult(rungs, eta, outcomes, sum(reached), len(members) * horizon,
                         time.perf_counter() - began, rung_sizes)


class AshaScheduler:
    """Bookkeeping for asynchronous successive halving (ASHA, Li et al. 2018).

    The search loop reports every finished evaluation with :meth:`report`; a result at rung
    ``r`` may continue to rung ``r + 1`` once it is among the top ``floor(n / eta)`` of the ``n``
    results completed at rung ``r`` (:meth:`should_promote`). :meth:`promotable` lists every
    such candidate not yet promoted, highest rung first — ASHA's ``get_job`` takes the first
    one, or starts a new candidate at rung 0 when the list is empty. A rejected or failed
    result (fitness None) counts as completed and ranks last. State is plain JSON.

    Example:
        >>> asha = AshaScheduler(rungs=(100, 300, 900), eta=3)
        >>> for name, acc in [("a", 0.5), ("b", 0.7), ("c", 0.6)]:
        ...     asha.report(name, 0, acc)
        >>> asha.promotable()
        [('b', 1)]
        >>> asha.promote("b", 0)
        >>> asha.steps_for(1)  # continue b from its rung-0 checkpoint
        200
    """

    def __init__(self, *, rungs: Sequence[int], eta: int = 3) -> None:
        self.rungs = _check_rungs(rungs, eta)
        self.eta = eta
        # per rung, candidate -> fitness (None: rejected/failed), in the order reported
        self.results: list[dict[str, float | None]] = [{} for _ in self.rungs]
        self.promoted: list[set[str]] = [set() for _ in self.rungs]

    def report(self, candidate: str, rung: int, fitness: float | None) -> None:
        """Records ``candidate``'s fitness after training to ``rungs[rung]`` steps."""
        self._check(rung)
        value = None if fitness is None or math.isnan(fitness) else float(fitness)
        self.results[rung][candidate] = value

    def should_promote(self, candidate: str, rung: int, fitness: float | None) -> bool:
        """The ASHA rule: is this result in the top ``floor(n / eta)`` of the results completed
        at ``rung`` (itself included, recorded or not)? Never at the last rung."""
        self._check(rung)
        if rung == len(self.rungs) - 1 or fitness is None or math.isnan(fitness):
            return False
        others = {**self.results[rung], candidate: float(fitness)}
        k = len(others) // self.eta
        return candidate in self._top(others, k)

    def promotable(self) -> list[tuple[str, int]]:
        """``(candidate, next_rung)`` for every result that qualifies and is not yet promoted,
        highest rung first, best first within a rung."""
        out: list[tuple[str, int]] = []
        for rung in range(len(self.rungs) - 2, -1, -1):
            done = self.results[rung]
            out += [(c, rung + 1) for c in self._top(done, len(done) // self.eta) if c not in self.promoted[rung]]
        return out

    def promote(self, candidate: str, rung: int) -> None:
        """Marks ``candidate`` as continued from ``rung`` (so it is not handed out twice)."""
        self._check(rung)
        if candidate not in self.results[rung]:
            raise KeyError(f"{candidate!r} has no result at rung {rung}")
        self.promoted[rung].add(candidate)

    def steps_for(self, rung: int) -> int:
        """Steps to train to reach ``rung``: the difference to the previous rung when resuming."""
        self._check(rung)
        return self.rungs[rung] - (self.rungs[rung - 1] if rung > 0 else 0)

    def rung_of(self, candidate: str) -> int | None:
        """The highest rung ``candidate`` has a result at (None if it has none)."""
        return max((r for r, done in enumerate(self.results) if candidate in done), default=None)

    def steps_spent(self) -> int:
        """Training steps spent so far: each candidate's highest completed rung."""
        return sum(self.rungs[r] for c in self._candidates() if (r := self.rung_of(c)) is not None)

    def full_steps(self) -> int:
        """What training every candidate seen so far to the last rung would have cost."""
        return len(self._candidates()) * self.rungs[-1]

    def state_dict(self) -> dict[str, Any]:
        return {"rungs": list(self.rungs), "eta": self.eta,
                "results": [[[c, f] for c, f in done.items()] for done in self.results],
                "promoted": [sorted(p) for p in self.promoted]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if list(state["rungs"]) != list(self.rungs) or state["eta"] != self.eta:
            raise ValueError(f"state is for rungs {state['rungs']} eta {state['eta']}, "
                             f"not rungs {list(self.rungs)} eta {self.eta}")
        self.results = [{c: f for c, f in done} for done in state["results"]]
        self.promoted = [set(p) for p in state["promoted"]]

    @classmethod
    def from_state_dict(cls, state: dict[str, Any]) -> AshaScheduler:
        scheduler = cls(rungs=state["rungs"], eta=state["eta"])
        scheduler.load_state_dict(state)
        return scheduler

    def _candidates(self) -> set[str]:
        return {c for done in self.results for c in done}

    def _check(self, rung: int) -> None:
        if not 0 <= rung < len(self.rungs):
            raise ValueError(f"rung {rung} out of range 0..{len(self.rungs) - 1}")

    @staticmethod
    def _top(done: dict[str, float | None], k: int) -> list[str]:
        # sorted() is stable: among equal fitness the earlier report wins
        ranked = sorted(done, key=lambda c: -(v if (v := done[c]) is not None else -math.inf))
        return [c for c in ranked[:k] if done[c] is not None]
