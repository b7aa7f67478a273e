"""What ``train_population`` takes and returns: members, their checkpoints and the run's results.

A module of its own so that the training loop (``evaluator._train``) and the processes that
train a population in parts (``evaluator._parallel``, ``evaluator._worker``) share these types
without importing each other; it needs no torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from evaluator._result import RunResult
from space import Expr


@dataclass(frozen=True)
class Member:
    """One child network of a population: a candidate function and the seed it trains with."""

    expr: Expr
    seed: int


@dataclass
class Checkpoint:
    """One member's training state at ``step`` of a schedule ``horizon`` steps long."""

    member: Member
    step: int
    horizon: int
    state: dict[str, Any]
    losses: list[float] = field(default_factory=list)


@dataclass
class PopulationRun:
    """One :class:`RunResult` per member, in order; with ``keep_checkpoints`` each surviving
    member's :class:`Checkpoint` (else None); the run's wall time and how many members trained."""

    results: list[RunResult]
    checkpoints: list[Checkpoint | None]
    wall_time: float
    trained_members: int
