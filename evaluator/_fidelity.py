"""Multi-fidelity evaluation: spend little on poor candidates, the full budget on good ones.

Every candidate starts on a short budget (rung 0); only the best ``1/eta`` continue — from their
checkpoints, on the *same* one-cycle schedule, so a promoted member ends exactly where training
it straight through would have (tested) — to the next rung, and so on up to the full budget.

:class:`AshaScheduler` is the asynchronous rule of ASHA (Li et al. 2018, "A System for Massively
Parallel Hyperparameter Tuning"): a result is promoted as soon as it is in the top ``1/eta`` of
the results completed at its rung, so workers never wait for a rung to fill. It only keeps
books; the search loop (``worker``) trains. :func:`geometric_rungs` proposes the budgets.

Why rank on short runs at all: on ``mnist1d-mlp`` the low-to-high-fidelity rank correlation is
what makes this safe or not; it is measured and published (DESIGN.md), not assumed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any


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
