"""Scores relative to the baselines: one task's normalised score, several tasks' aggregate, and
the transfer verdict of the confirm phase. Pure functions over numbers; the runner feeds them.

A task's fitness is in its own units (accuracy, minus a loss); to put several on one scale each
is normalised against the baselines' mean there (ReLU and SiLU by default), trained with the
same seeds and steps: ``(f - b) / |b|`` — 0 is as good as the baselines, +0.05 is 5 % better.

Example:
    >>> round(normalised(0.85, 0.80), 4), aggregate([(0.1, 1.0), (-0.2, 1.0)], "min")
    (0.0625, -0.2)
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from evaluator import over_seeds

FLOOR = 1e-6  # |b| below this divides by it instead: a baseline scoring ~0 must not blow scores up


def normalised(fitness: float, reference: float | None) -> float:
    """``fitness`` relative to the baselines' mean ``reference`` (None: no baseline trained
    finitely there, so the raw fitness)."""
    if reference is None:
        return fitness
    return (fitness - reference) / max(abs(reference), FLOOR)


def aggregate(scores: Sequence[tuple[float, float]], how: str) -> float:
    """(score, weight) pairs -> the weighted ``mean`` or the ``min`` (weights unused)."""
    if how == "min":
        return min(score for score, _ in scores)
    total = sum(weight for _, weight in scores)
    return sum(score * weight for score, weight in scores) / total


def reference(means: Sequence[float | None]) -> float | None:
    """The baselines' mean of the finite ones; None if none trained finitely."""
    finite = [m for m in means if m is not None and math.isfinite(m)]
    return statistics.fmean(finite) if finite else None


@dataclass(frozen=True)
class Seeds:
    """One function's results on one task: fitness per seed (None where the run did not give
    one) and the first failing run's reason."""

    values: tuple[float | None, ...]
    reason: str | None = None

    @property
    def finite(self) -> list[float]:
        return [v for v in self.values if v is not None and math.isfinite(v)]

    @property
    def ok(self) -> bool:
        return bool(self.values) and len(self.finite) == len(self.values)

    @property
    def mean(self) -> float | None:
        return over_seeds(self.values).mean

    @property
    def std(self) -> float | None:
        return over_seeds(self.values).std

    def to_json(self) -> dict[str, object]:
        return {"mean": self.mean, "std": self.std, "seeds": len(self.finite), "of": len(self.values),
                "reason": self.reason}


def task_verdict(candidate: Seeds, baselines: dict[str, Seeds]) -> str | None:
    """Why ``candidate`` does not transfer to this task, or None when it does: every seed must
    train to a finite fitness, and its mean may fall short of the weakest finite baseline by at
    most two standard errors (so seed noise alone does not fail a function)."""
    if not candidate.ok:
        failed = len(candidate.values) - len(candidate.finite)
        return f"{failed} of {len(candidate.values)} seeds did not train ({candidate.reason or 'no fitness'})"
    finite = {name: seeds for name, seeds in baselines.items() if seeds.mean is not None}
    if not finite:
        return None
    name, weakest = min(finite.items(), key=lambda item: item[1].mean or 0.0)
    assert candidate.mean is not None and weakest.mean is not None
    error = math.sqrt(_variance_of_mean(candidate) + _variance_of_mean(weakest))
    if candidate.mean + 2 * error < weakest.mean:
        return f"worse than {name} ({candidate.mean:.4g} vs {weakest.mean:.4g})"
    return None


def _variance_of_mean(seeds: Seeds) -> float:
    return (seeds.std or 0.0) ** 2 / max(1, len(seeds.finite))


def verdict(tasks: dict[str, tuple[Seeds, dict[str, Seeds]]]) -> dict[str, object]:
    """The transfer verdict over the confirm tasks: ``{"transfers": bool, "summary": "transfers"
    | "fails on T: why; …", "tasks": {T: {candidate's numbers, "baselines": {name: numbers},
    "fails": why | None}}}``."""
    table: dict[str, object] = {}
    failures = []
    for task, (candidate, baselines) in tasks.items():
        why = task_verdict(candidate, baselines)
        table[task] = {**candidate.to_json(), "baselines": {n: s.to_json() for n, s in baselines.items()},
                       "fails": why}
        if why is not None:
            failures.append(f"fails on {task}: {why}")
    return {"transfers": not failures, "summary": "; ".join(failures) or "transfers", "tasks": table}
