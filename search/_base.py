"""The controller protocol: ``ask(n) -> list[Expr]``, ``tell(results)``, ``state_dict()``.

A controller proposes candidates of a :class:`~space.Space` and learns from their fitness. It
never trains and never touches a database: evaluation is injected by the search loop.

Deduplication lives here, once for every controller: a proposal whose fingerprint was already
proposed in this job is never handed out again. If its result is known the controller is told
that result at once (so it learns as if it had evaluated it); if the result is still pending it
is simply skipped. Subclasses implement four small hooks:

* ``_propose(rng) -> Candidate`` — one new candidate (a genome of the space);
* ``_observe(candidate, fitness)`` — learn from one result (``fitness`` None: rejected/failed);
* ``_state() -> dict`` / ``_load(state)`` — their own JSON-serializable state.

Everything is seeded and deterministic; ``state_dict()`` captures the random generator too, so
a job restored from it continues exactly as if it had never stopped.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from space import Candidate, Expr, Space, fingerprint

# Proposals drawn per slot before giving up: a small or nearly exhausted space yields fewer.
MAX_DRAWS_PER_SLOT = 200


@dataclass(frozen=True)
class Result:
    """The outcome of evaluating one proposed expression. ``fitness`` is higher-is-better;
    None means rejected or failed. ``cost`` (optional) is a second objective to minimise,
    e.g. the activation's complexity for multi-objective evolution."""

    expr: Expr
    fitness: float | None
    cost: float | None = None


class ControllerError(ValueError):
    """A bad controller name or parameter; the message names it."""


class Controller:
    """Base class of every search controller. See the module docstring."""

    name: ClassVar[str]

    def __init__(self, space: Space, *, seed: int = 0) -> None:
        self.space = space
        self.seed = seed
        self.rng = random.Random(seed)
        self._candidates: dict[str, Candidate] = {}  # fingerprint -> the candidate proposed
        self._results: dict[str, float | None] = {}  # fingerprint -> fitness, once told
        self._order: list[str] = []  # fingerprints in proposal order

    # -- the protocol
    def ask(self, n: int) -> list[Expr]:
        """Up to ``n`` new, mutually distinct candidates never proposed before in this job."""
        if n < 0:
            raise ControllerError(f"n must be >= 0, got {n}")
        out: list[Expr] = []
        draws = 0
        while len(out) < n and draws < MAX_DRAWS_PER_SLOT * max(1, n):
            draws += 1
            candidate = self._propose(self.rng)
            expr = self.space.to_expr(candidate)
            key = fingerprint(expr)
            if key in self._candidates:
                if key in self._results:  # an equivalent function was evaluated: reuse it
                    self._observe(candidate, self._results[key])
                continue
            self._candidates[key] = candidate
            self._order.append(key)
            out.append(expr)
        return out

    def tell(self, results: Sequence[Result]) -> None:
        for result in results:
            key = fingerprint(result.expr)
            candidate = self._candidates.get(key)
            if candidate is None:
                raise ControllerError(f"told about {result.expr}, which this controller never proposed")
            if key in self._results:
                continue  # a repeated report (e.g. after a crash) must not count twice
            self._results[key] = result.fitness
            self._observe_result(candidate, result)

    def state_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "seed": self.seed,
            "rng": _rng_state(self.rng),
            "proposed": [[k, self.space.candidate_to_json(self._candidates[k])] for k in self._order],
            "results": {k: v for k, v in self._results.items()},
            "own": self._state(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("name") != self.name:
            raise ControllerError(f"state is for controller {state.get('name')!r}, not {self.name!r}")
        self.seed = int(state["seed"])
        self.rng.setstate(_rng_from(state["rng"]))
        self._candidates = {k: self.space.candidate_from_json(c) for k, c in state["proposed"]}
        self._order = [k for k, _ in state["proposed"]]
        self._results = dict(state["results"])
        self._load(state["own"])

    @property
    def pending(self) -> int:
        """Proposed candidates whose result has not been told yet."""
        return len(self._candidates) - len(self._results)

    def best(self) -> tuple[Expr, float] | None:
        scored = [(k, f) for k, f in self._results.items() if f is not None]
        if not scored:
            return None
        key, fitness = max(scored, key=lambda kv: kv[1])
        return self.space.to_expr(self._candidates[key]), fitness

    # -- hooks for subclasses
    def _propose(self, rng: random.Random) -> Candidate:
        raise NotImplementedError

    def _observe(self, candidate: Candidate, fitness: float | None) -> None:
        """Learn from one result. The default does nothing (random search)."""

    def _observe_result(self, candidate: Candidate, result: Result) -> None:
        """Like :meth:`_observe` with the whole result (multi-objective controllers)."""
        self._observe(candidate, result.fitness)

    def _state(self) -> dict[str, Any]:
        return {}

    def _load(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`_state` returned."""


def _rng_state(rng: random.Random) -> list[Any]:
    version, internal, gauss = rng.getstate()
    return [version, list(internal), gauss]


def _rng_from(data: list[Any]) -> tuple[Any, ...]:
    version, internal, gauss = data
    return (version, tuple(internal), gauss)
