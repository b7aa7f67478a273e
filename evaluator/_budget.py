"""Training budgets, the learning-rate schedule and the early-rejection policy."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any


@dataclass(frozen=True)
class Budget:
    """How one child network is trained. Every task documents why its defaults are what they are.

    The optimizer is always AdamW; the schedule is one-cycle (linear warm-up to ``lr`` over
    ``warmup`` of the steps, then cosine decay to ``lr * final_lr_ratio``), defined over a
    ``horizon`` so that multi-fidelity training can stop at a rung and later continue on the
    very same schedule.
    """

    steps: int
    batch_size: int
    lr: float
    weight_decay: float = 0.0
    warmup: float = 0.3
    final_lr_ratio: float = 1e-3
    grad_clip: float | None = None  # per-member global norm clip; None: no clipping
    eval_batch_size: int = 2048

    def with_steps(self, steps: int) -> Budget:
        if steps < 1:
            raise ValueError(f"steps must be positive, got {steps}")
        return replace(self, steps=steps)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def learning_rate(budget: Budget, step: int, horizon: int) -> float:
    """The one-cycle learning rate at 0-based ``step`` of a schedule ``horizon`` steps long."""
    warm = max(1, int(budget.warmup * horizon))
    low = budget.lr * budget.final_lr_ratio
    if step < warm:
        return low + (budget.lr - low) * (step + 1) / warm
    progress = min(1.0, (step - warm) / max(1, horizon - warm))
    return low + (budget.lr - low) * 0.5 * (1.0 + math.cos(math.pi * progress))


@dataclass(frozen=True)
class RejectionPolicy:
    """EvoNorm-style early rejection (Liu et al. 2020), each check with a recorded reason.

    * ``probe`` — before training: non-finite output or gradient of the function on a probe
      batch, or a constant or affine function (a network of those is linear; it cannot win);
    * ``signal_propagation`` — before training: the function's signal or gradient explodes or
      dies in a deep random network (``evaluator._signal``; the measured gains in the detail);
    * ``nonfinite_loss`` / ``nonfinite_gradient`` — at any step;
    * ``loss_not_falling`` — after ``loss_window`` steps the mean training loss of the last
      ``loss_window // 4`` steps must be below ``(1 - min_loss_drop)`` times that of the first
      few steps;
    * ``quality_floor`` — after ``quality_fraction`` of the steps a short evaluation must reach
      the task's floor (classification accuracy; skipped where the task has none);
    * ``grad_explosion`` — a member's gradient norm above ``grad_norm_limit``;
    * ``time_limit`` — the run exceeded ``time_limit`` seconds (failed, not rejected).
    """

    probe: bool = True
    signal_propagation: bool = True
    loss_window: int | None = 200
    min_loss_drop: float = 0.02
    quality_fraction: float | None = 0.25
    grad_norm_limit: float = 1e4
    time_limit: float | None = None

    @classmethod
    def off(cls) -> RejectionPolicy:
        """No rejection at all (used to measure what checks cost and save)."""
        return cls(probe=False, signal_propagation=False, loss_window=None, quality_fraction=None, grad_norm_limit=math.inf)
