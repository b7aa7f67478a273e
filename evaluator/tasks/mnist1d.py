"""``mnist1d-mlp``: MNIST-1D (Greydanus 2020) generated procedurally, an MLP; the CPU reference.

Never ``mnist1d``'s ``get_dataset`` (it downloads): ``make_dataset`` builds the data offline.

Default budget, and why (BACKGROUND.md, measured on these machines): the naive recipe (4,000
training samples, Adam 1e-2, 2,000 steps) ranked functions with a seed-to-seed Spearman of
only 0.48 — fitness was noise. 25,000 samples (15,000 train / 10,000 validation, so accuracy is
resolved to 0.01 %), standardised inputs, an MLP 40-128-128-10, AdamW with a one-cycle
schedule peaking at 3e-3, batch 128 and 3,000 steps (about 26 epochs) gave 0.97.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from evaluator._budget import Budget
from evaluator._data import cached_arrays, standardize
from evaluator._stacked import StackedActivation, StackedLinear
from evaluator._task import ActivationFactory, Task, TaskData, register

RECIPE = {"num_samples": 25000, "train_split": 0.6, "seed": 42, "version": 1}


class StackedMLP(nn.Module):
    """``in -> hidden -> … -> out`` with an activation after every hidden layer."""

    def __init__(self, factories: Sequence[ActivationFactory], sizes: Sequence[int]) -> None:
        super().__init__()
        k = len(factories)
        layers: list[nn.Module] = []
        for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
            layers.append(StackedLinear(k, fan_in, fan_out))
            if i < len(sizes) - 2:
                # member slices are [1, B, H]: channels last
                layers.append(StackedActivation([f(fan_out, -1) for f in factories], split_dim=0))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.layers(x)
        return out


def _make_mnist1d() -> dict[str, np.ndarray]:
    from mnist1d.data import get_dataset_args, make_dataset

    args = get_dataset_args()
    args.num_samples = RECIPE["num_samples"]
    args.train_split = RECIPE["train_split"]
    args.seed = RECIPE["seed"]
    data = make_dataset(args)
    return {"x": data["x"], "y": data["y"], "x_test": data["x_test"], "y_test": data["y_test"]}


@register("mnist1d-mlp")
class Mnist1dMLP(Task):
    name = "mnist1d-mlp"
    description = "MNIST-1D (25,000 procedural sequences of length 40), MLP 40-128-128-10"
    budget = Budget(steps=3000, batch_size=128, lr=3e-3, weight_decay=1e-2)
    quality_floor = 0.2  # chance is 0.1; a network that cannot beat 0.2 early never catches up
    # relu, tanh, silu, gelu, sin, softsign, elu: 0.19-0.22 after 20 steps of a 200-step run
    # (the check would reject good functions), 0.25-0.30 after 50, 0.33-0.45 after 100
    quality_min_steps = 100

    def __init__(self, hidden: int = 128, depth: int = 2) -> None:
        self.sizes = [40, *([hidden] * depth), 10]

    def load(self) -> TaskData:
        arrays = cached_arrays("mnist1d", RECIPE, _make_mnist1d)
        x_train, x_val = standardize(arrays["x"], arrays["x_test"])
        return TaskData(
            torch.from_numpy(x_train), torch.from_numpy(arrays["y"].astype(np.int64)),
            torch.from_numpy(x_val), torch.from_numpy(arrays["y_test"].astype(np.int64)),
        )

    def build(self, factories: Sequence[ActivationFactory]) -> nn.Module:
        return StackedMLP(factories, self.sizes)
