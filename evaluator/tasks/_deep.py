"""Building blocks of the deep tasks: He/Kaiming-initialised stacked layers, option checks.

The stacked layers of ``evaluator._stacked`` use PyTorch's default initialisation (uniform,
variance ``1 / (3 fan_in)``): under it a ReLU signal shrinks six-fold per layer, so a 16-layer
plain network would test the initialisation, not the activation. "Delving Deep into Rectifiers"
(He et al. 2015) draws weights from N(0, 2 / fan_in), which keeps a ReLU signal's second moment
constant with depth; that is the network a user puts a new activation into, and what the
signal-propagation probe (``evaluator._signal``) measures. Biases start at 0.

``scale`` multiplies the standard deviation (Fixup's rescaling of residual branches); ``scale=0``
is a zero-initialised layer. Member k draws from generator k, contiguously, as the other stacked
layers do, so a member's weights never depend on its population.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from evaluator._stacked import StackedActivation, StackedConv2d, StackedLinear
from evaluator._task import ActivationFactory, TaskError


def check_sizes(task: str, **sizes: object) -> None:
    """A :class:`TaskError` naming the option unless every size is a whole number >= 1."""
    for name, value in sizes.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise TaskError(f"task {task!r}: option {name} must be a whole number >= 1, got {value!r}")


def dense_activation(factories: Sequence[ActivationFactory], features: int) -> StackedActivation:
    # member slices of [K, B, F] are [1, B, F]: per-channel parameters along the last dim
    return StackedActivation([f(features, -1) for f in factories], split_dim=0)


def _normal_into(view: torch.Tensor, std: float, generator: torch.Generator) -> None:
    """``view`` (maybe strided) filled as a contiguous tensor of its shape would be."""
    values = torch.empty(view.shape, dtype=view.dtype, device=view.device)
    values.normal_(0.0, std, generator=generator)
    with torch.no_grad():
        view.copy_(values)


class HeLinear(StackedLinear):
    """:class:`StackedLinear` with weights from N(0, (scale² · 2) / fan_in) and zero biases."""

    def __init__(self, k: int, in_features: int, out_features: int, scale: float = 1.0) -> None:
        super().__init__(k, in_features, out_features)
        self.scale = scale

    def reset_parameters(self, generators: Sequence[torch.Generator]) -> None:
        fan_in, out = self.weight.shape[1], self.out_features
        with torch.no_grad():
            self.weight.zero_()
            if self.bias is not None:
                self.bias.zero_()
        if self.scale == 0.0:
            return
        std = self.scale * math.sqrt(2.0 / fan_in)
        for k, gen in enumerate(generators):
            _normal_into(self.weight[k, :, :out], std, gen)


class HeConv2d(StackedConv2d):
    """:class:`StackedConv2d` with He-normal weights (fan-in = in_channels × kernel area)."""

    def __init__(self, k: int, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 padding: int = 0, bias: bool = True, scale: float = 1.0) -> None:
        super().__init__(k, in_channels, out_channels, kernel_size, stride=stride, padding=padding, bias=bias)
        self.scale = scale

    def reset_parameters(self, generators: Sequence[torch.Generator]) -> None:
        weight, bias = self.conv.weight, self.conv.bias
        with torch.no_grad():
            weight.zero_()
            if bias is not None:
                bias.zero_()
        if self.scale == 0.0:
            return
        per = weight.shape[0] // self.k
        std = self.scale * math.sqrt(2.0 / (weight.shape[1] * weight.shape[2] * weight.shape[3]))
        for k, gen in enumerate(generators):
            _normal_into(weight[k * per : (k + 1) * per], std, gen)
