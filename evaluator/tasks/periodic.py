"""``periodic-extrapolation``: fit a periodic signal, score it *outside* the training range.

Ziyin, Hartwig and Ueda 2020, "Neural Networks Fail to Learn Periodic Functions and How to Fix
It": a ReLU network extrapolates linearly and a tanh network flattens to a constant, so neither
continues a periodic signal past the data; Snake ``x + sin²(x)`` does. This task rewards exactly
that inductive bias, which the classification tasks cannot see.

Data (procedural, a fixed numpy seed, nothing cached: generating it takes milliseconds):
``y = sin(x) + 0.5·sin(2x)`` (period 2π, two harmonics so a single ``sin`` unit is not the whole
answer). Training: 4,096 points drawn uniformly from ``[-2π·P, 2π·P]`` with P = 2 periods on
each side, plus Gaussian noise σ = 0.05. Validation: 2,048 evenly spaced points on the
extrapolation band ``2π·P < |x| ≤ 2π·(P + E)`` (E = 1 period beyond each edge), scored against
the *clean* signal so the metric has no noise floor. ``x`` stays in radians (not standardised):
the frequency relative to the activation's own period is part of what is being tested.

Model: a stacked MLP 1-64-64-1 with the candidate after both hidden layers.

Fitness: ``-val_mse``. A constant predictor scores -0.625 (the signal's variance); ReLU/tanh
land near or below that, a network that continues the wave scores close to 0.

Default budget, and why: 2,000 steps of batch 128 (about 60 epochs of 4,096 points) with AdamW,
one-cycle to 3e-3 and a gradient clip (periodic activations make sharp loss landscapes; a clip
keeps a bad step from throwing a member out). By then every sane activation has fitted the
training range (train MSE 0.0025-0.06), so the ranking is about extrapolation, not optimisation
speed. Measured, mean of seeds 0-2 (fitness): Snake -0.13, sin -0.33, SiLU -1.85, ReLU -5.2,
tanh -6.5. At 4,000 steps the order was the same (ReLU and tanh, both far below the constant
predictor, swap); at 500 steps SiLU had not fitted the range yet and fell behind ReLU and tanh.
Time: about 2-3 s per candidate alone on one thread of the 2-core CPU, about 0.6 s per member
in a population of 9.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from evaluator._budget import Budget
from evaluator._task import ActivationFactory, Task, TaskData, register
from evaluator.tasks.mnist1d import StackedMLP

SEED = 20200617  # fixed: the data set is part of the task's definition


def signal(x: np.ndarray) -> np.ndarray:
    return np.sin(x) + 0.5 * np.sin(2.0 * x)


@register("periodic-extrapolation")
class PeriodicExtrapolation(Task):
    name = "periodic-extrapolation"
    description = "y = sin x + 0.5 sin 2x: train on |x| <= 4π, score MSE on 4π < |x| <= 6π; MLP 1-64-64-1"
    objective = "val_mse"
    maximize = False
    budget = Budget(steps=2000, batch_size=128, lr=3e-3, grad_clip=1.0)

    def __init__(self, hidden: int = 64, periods: int = 2, beyond: int = 1,
                 train_samples: int = 4096, val_samples: int = 2048, noise: float = 0.05) -> None:
        self.hidden, self.periods, self.beyond = hidden, periods, beyond
        self.train_samples, self.val_samples, self.noise = train_samples, val_samples, noise

    def load(self) -> TaskData:
        rng = np.random.default_rng(SEED)
        edge, far = 2 * math.pi * self.periods, 2 * math.pi * (self.periods + self.beyond)
        x_train = rng.uniform(-edge, edge, self.train_samples)
        y_train = signal(x_train) + self.noise * rng.standard_normal(self.train_samples)
        # half the validation points beyond each edge; the edge itself is in-range, so excluded
        half = np.linspace(edge, far, self.val_samples // 2 + 1)[1:]
        x_val = np.concatenate([-half[::-1], half])
        y_val = signal(x_val)

        def col(a: np.ndarray) -> torch.Tensor:
            return torch.from_numpy(a.astype(np.float32)).unsqueeze(-1)  # [N, 1]: one feature

        return TaskData(col(x_train), col(y_train), col(x_val), col(y_val))

    def build(self, factories: Sequence[ActivationFactory]) -> nn.Module:
        return StackedMLP(factories, [1, self.hidden, self.hidden, 1])

    def loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        k = output.shape[0]
        return (output.float() - target).pow(2).reshape(k, -1).mean(dim=1)

    def metrics(self, output: torch.Tensor, target: torch.Tensor) -> dict[str, torch.Tensor]:
        k = output.shape[0]
        return {"val_mse": (output.float() - target).pow(2).reshape(k, -1).sum(dim=1)}
