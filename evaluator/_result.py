"""What an evaluation returns: one run per (candidate, seed), and their aggregate.

This module is the one definition of two things every layer above shares, and it needs no
torch so that the runner and the API process can import it: the vocabulary of a run's outcome
(``ok``, ``rejected``, ``failed``; the store keeps the same strings, plus ``pending``, and
cannot import this module: see ``tests/store/test_db.py``) and the statistics over seeds
(:func:`over_seeds`).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Final, Literal

Status = Literal["ok", "rejected", "failed"]
OK: Final = "ok"
REJECTED: Final = "rejected"  # stopped early by a check: a verdict on the function
FAILED: Final = "failed"  # stopped by something else (a time limit, an error): no verdict


@dataclass(frozen=True)
class SeedStats:
    """The finite values among one function's per-seed fitness: their mean (None if there is
    none), sample standard deviation (None below two) and count."""

    mean: float | None
    std: float | None
    count: int


def over_seeds(values: Iterable[float | None]) -> SeedStats:
    """Mean and spread of the finite ``values`` (None, NaN and ±inf are left out).

    >>> stats = over_seeds([0.5, 0.7, None, float("nan")])
    >>> stats.mean, round(stats.std, 4), stats.count
    (0.6, 0.1414, 2)
    """
    finite = [v for v in values if v is not None and math.isfinite(v)]
    return SeedStats(statistics.fmean(finite) if finite else None,
                     statistics.stdev(finite) if len(finite) > 1 else None, len(finite))


@dataclass
class RunResult:
    """One child network trained with one candidate and one seed.

    ``fitness`` is the task's objective (higher is better): validation accuracy for
    classification, negative validation MSE for regression, negative validation loss for
    language models. A rejected or failed run has ``fitness`` None and a ``reason``.

    Trained in a population of K members, ``wall_time`` is this run's share of the population's
    wall time (its cost: the whole divided by K) and ``steps_per_second`` is the rate of the
    shared training loop (every member advances one step per step), data loading, building the
    networks and the final validation excluded.
    """

    expression: str
    seed: int
    task: str
    status: Status = OK
    reason: str | None = None
    detail: str | None = None
    fitness: float | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    steps: int = 0
    planned_steps: int = 0
    wall_time: float = 0.0
    steps_per_second: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Fitness:
    """Fitness of one candidate over seeds: mean, sample std and per-seed values."""

    mean: float | None
    std: float | None
    per_seed: tuple[float | None, ...]
    status: str
    reason: str | None

    @classmethod
    def of(cls, runs: Sequence[RunResult]) -> Fitness:
        values = [r.fitness for r in runs]
        bad = [r for r in runs if r.status != OK]
        if bad:
            return cls(None, None, tuple(values), bad[0].status, bad[0].reason)
        stats = over_seeds(values)
        return cls(stats.mean, stats.std or 0.0, tuple(values), OK, None)

    def to_json(self) -> dict[str, Any]:
        return {"mean": self.mean, "std": self.std, "per_seed": list(self.per_seed),
                "status": self.status, "reason": self.reason}
