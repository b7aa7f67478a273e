"""``mnist1d-deep-mlp`` and ``mnist1d-resmlp``: deep networks on MNIST-1D, for depth-aware fitness.

Issue 16: on the shallow proxies (2-layer MLP, small CNN) x + x² and x² + asinh x win by five
points, and at depth 12 they diverge. These tasks score a candidate in a network deep enough
for a signal that compounds per layer to explode or vanish, on the data and the validation set
of ``mnist1d-mlp`` (25,000 procedural sequences, 10,000 held out).

``mnist1d-deep-mlp`` — a plain MLP, 40 → ``width`` × ``depth`` hidden layers → 10, the candidate
after every hidden layer. He/Kaiming-normal weights, zero biases (``evaluator.tasks._deep``):
the initialisation under which ReLU's signal keeps its scale through any depth, and the one the
signal-propagation probe assumes. No normalisation layers: that is what exposes a function whose
signal or gradient compounds with depth (a norm would rescale it away after every layer).

``mnist1d-resmlp`` — a pre-activation residual MLP ("Identity Mappings in Deep Residual
Networks", He et al. 2016, without its batch norms): a linear stem 40 → ``width``, ``blocks``
blocks ``h + W₂ φ(W₁ φ(h))``, then φ and a linear read-out. No normalisation either, so it is
initialised as residual networks without normalisation are: Fixup ("Fixup Initialization:
Residual Learning Without Normalization", Zhang et al. 2019) — He init scaled by
``blocks^(-1/2)`` for the first layer of each branch, zeros for the last layer of each branch
and for the read-out — so that the network starts as a well-scaled shallow one however many
blocks it has. (Fixup's scalar multipliers and biases are left out: the linear layers carry
biases.) He init without that scaling would grow the residual stream's variance 2× per block
for every function, ReLU included. Measured alternative: He init with each branch's output
layer scaled by ``blocks^(-1/2)`` instead of zeroed trained about as well (width 32, 8 blocks:
ReLU 0.69, SiLU 0.73 against Fixup's 0.60, 0.63) and x + x² diverged under both; Fixup is the
published recipe.

Default budget, and why (measured on a 2-core Intel Xeon @ 2.80GHz, AVX-512, shared with other
jobs; numbers in docs/fitness_fidelity_mnist1d-deep-mlp.txt and …-resmlp.txt): see the
``budget`` of each class. Width 32 (the first try, depth 16 / 8 blocks) left ReLU at 0.48-0.56
and the seeds of one function 3-9 points apart; width 64 brings ReLU to 0.69 (plain) and 0.79
(residual) with seeds within about a point. Peak learning rate 3e-3 as ``mnist1d-mlp``: 1e-3
under-trained (ReLU 0.48), 1e-2 made tanh unstable across seeds (0.54 and 0.41).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from evaluator._budget import Budget
from evaluator._task import ActivationFactory, register
from evaluator.tasks._deep import HeLinear, check_sizes, dense_activation
from evaluator.tasks.mnist1d import Mnist1dMLP

IN_FEATURES, CLASSES = 40, 10


class StackedDeepMLP(nn.Module):
    """``in → width`` × ``depth`` → ``out``, the candidate after every hidden layer, He init."""

    def __init__(self, factories: Sequence[ActivationFactory], width: int, depth: int) -> None:
        super().__init__()
        k = len(factories)
        layers: list[nn.Module] = []
        fan_in = IN_FEATURES
        for _ in range(depth):
            layers += [HeLinear(k, fan_in, width), dense_activation(factories, width)]
            fan_in = width
        layers.append(HeLinear(k, fan_in, CLASSES))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.layers(x)
        return out


class PreActBlock(nn.Module):
    """``h + W₂ φ(W₁ φ(h))`` with Fixup's initialisation for a network of ``blocks`` blocks."""

    def __init__(self, factories: Sequence[ActivationFactory], width: int, blocks: int) -> None:
        super().__init__()
        k = len(factories)
        self.branch = nn.Sequential(
            dense_activation(factories, width), HeLinear(k, width, width, scale=1.0 / math.sqrt(blocks)),
            dense_activation(factories, width), HeLinear(k, width, width, scale=0.0),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = x + self.branch(x)
        return out


class StackedResMLP(nn.Module):
    """Linear stem, ``blocks`` pre-activation residual blocks, φ, linear read-out (Fixup init)."""

    def __init__(self, factories: Sequence[ActivationFactory], width: int, blocks: int) -> None:
        super().__init__()
        k = len(factories)
        self.stem = HeLinear(k, IN_FEATURES, width)
        self.blocks = nn.Sequential(*(PreActBlock(factories, width, blocks) for _ in range(blocks)))
        self.head = nn.Sequential(dense_activation(factories, width), HeLinear(k, width, CLASSES, scale=0.0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.head(self.blocks(self.stem(x)))
        return out


@register("mnist1d-deep-mlp")
class Mnist1dDeepMLP(Mnist1dMLP):
    name = "mnist1d-deep-mlp"
    description = "MNIST-1D, plain MLP 40-64x12-10 (default width x depth), He init, no normalisation"
    budget = Budget(steps=1000, batch_size=128, lr=3e-3, weight_decay=1e-2)
    quality_floor = 0.2  # chance is 0.1
    # relu, tanh, silu, gelu, sin, softsign, elu: 0.22-0.36 after 50 steps of a 200-step run and
    # 0.22-0.32 after 50 of 400 (sin just above the floor), 0.31-0.43 after 100 of 400
    quality_min_steps = 100

    def __init__(self, width: int = 64, depth: int = 12) -> None:
        check_sizes(self.name, width=width, depth=depth)
        self.width, self.depth = width, depth

    def build(self, factories: Sequence[ActivationFactory]) -> nn.Module:
        return StackedDeepMLP(factories, self.width, self.depth)


@register("mnist1d-resmlp")
class Mnist1dResMLP(Mnist1dMLP):
    name = "mnist1d-resmlp"
    description = ("MNIST-1D, pre-activation residual MLP, width 64, 8 blocks of 2 layers (defaults), "
                   "Fixup init, no normalisation")
    budget = Budget(steps=1000, batch_size=128, lr=3e-3, weight_decay=1e-2)
    quality_floor = 0.2  # chance is 0.1
    # the same seven functions: tanh and softsign at 0.19 after 50 steps of 200 or 400 (below
    # the floor), all 0.25-0.44 after 100 of 400
    quality_min_steps = 100

    def __init__(self, width: int = 64, blocks: int = 8) -> None:
        check_sizes(self.name, width=width, blocks=blocks)
        self.width, self.blocks = width, blocks

    def build(self, factories: Sequence[ActivationFactory]) -> nn.Module:
        return StackedResMLP(factories, self.width, self.blocks)
