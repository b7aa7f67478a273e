"""What an evaluation returns: one run per (candidate, seed), and their aggregate."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

OK, REJECTED, FAILED = "ok", "rejected", "failed"


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
    status: str = OK
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
        finite = [v for v in values if v is not None and math.isfinite(v)]
        mean = statistics.fmean(finite) if finite else None
        std = statistics.stdev(finite) if len(finite) > 1 else 0.0
        return cls(mean, std, tuple(values), OK, None)

    def to_json(self) -> dict[str, Any]:
        return {"mean": self.mean, "std": self.std, "per_seed": list(self.per_seed),
                "status": self.status, "reason": self.reason}
