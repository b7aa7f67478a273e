"""``digits-resnet``: a small ResNet on scikit-learn's 8×8 digits, for depth-aware fitness.

Data: exactly ``digits-cnn``'s (1,197 training / 600 validation images, the fixed stratified
split of :func:`evaluator.tasks.digits._load_digits`).

Network: ResNet-(4n+2) in the CIFAR design of "Deep Residual Learning for Image Recognition"
(He et al. 2016) — the family of ResNet-20, the Swish search's child network (and of
``cifar10-resnet20``) — scaled to 8×8 images: a 3×3 conv with ``width`` channels, then two stages
of ``blocks`` basic blocks (``width`` channels at 8×8, ``2·width`` at 4×4, stride 2 entering the
second), global average pooling and a linear layer. Basic blocks are ``φ(norm(conv(φ(norm(conv
x)))) + shortcut x)``: the candidate runs after the residual sum, so the stream itself passes
through it ``2·blocks`` times, as in ResNet-20. Shortcuts are option A (identity, or stride-2
subsampling and zero channels), parameter-free. Defaults: ``width=8, blocks=3`` — 14 layers,
13 activation sites.

Normalisation, and why batch norm by default (measured on a 2-core Intel Xeon @ 2.80GHz,
AVX-512, 38 functions × 2 seeds, ``bench/fitness_fidelity.py``): without it (``norm="none"``,
initialised by Fixup, "Fixup Initialization", Zhang et al. 2019: He init scaled by
``(2·blocks)^(-1/2)`` in the first conv of each branch, zeros in the last and in the
classifier), ReLU scored *below* identity (0.84 and 0.88 against 0.92 and 0.91, lr 3e-3) and
functions with a positive mean (softplus, sigmoid) sat at chance in both seeds: the stream of
a normalisation-free post-activation ResNet accumulates the activation's mean, a property of
that network rather than of the function. With batch norm (as in ResNet-20) ReLU, SiLU, GELU
and tanh lead (0.96-0.99) and identity falls behind (0.95), while the shallow winners still
diverge (x + x², x² + asinh x: non-finite loss): batch norm rescales each branch, not the
shortcut, so a quadratic term compounds along the stream all the same. Batch norm costs about
1.15× the step time of ``norm="none"``. ``nn.BatchNorm2d(K·C)`` on the ``[B, K·C, H, W]``
layout keeps every member's statistics apart. Convs are He-initialised (the torchvision ResNet
default); with batch norm after each, their scale only sets the effective learning rate.

Default budget, and why: 200 steps of batch 64 (about 11 epochs), AdamW one-cycle peaking at
3e-3. Digits is easy for a ResNet — a linear model of the pixels reaches 0.96 — so the longer
the training, the closer every usable function gets to the ceiling and the more the ranking is
validation noise: seed-to-seed Spearman 0.80 at 600 steps and lr 1e-2, 0.91 at 300, 0.92 at
200, 0.93 at 200 with lr 3e-3 (validation loss 0.98).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from evaluator._budget import Budget
from evaluator._stacked import padded_shortcut
from evaluator._task import ActivationFactory, TaskError, register
from evaluator.tasks._deep import HeConv2d, HeLinear, check_sizes
from evaluator.tasks.digits import DigitsCNN, conv_activation, to_channels, to_members

NORMS = ("batch", "none")


def _norm(k: int, channels: int, norm: str) -> nn.Module:
    return nn.BatchNorm2d(k * channels) if norm == "batch" else nn.Identity()


class BasicBlock(nn.Module):
    """``φ(norm(conv(φ(norm(conv(x))))) + shortcut(x))`` for K members on ``[B, K·C, H, W]``."""

    def __init__(self, factories: Sequence[ActivationFactory], c_in: int, c_out: int, stride: int,
                 norm: str, depth: int) -> None:
        super().__init__()
        k = self.k = len(factories)
        fixup = norm == "none"
        # Fixup for a network of `depth` residual branches of 2 layers: L^(-1/(2m-2)) = L^(-1/2)
        self.conv1 = HeConv2d(k, c_in, c_out, 3, stride=stride, padding=1, bias=fixup,
                              scale=1.0 / math.sqrt(depth) if fixup else 1.0)
        self.norm1 = _norm(k, c_out, norm)
        self.act1 = conv_activation(factories, c_out)
        self.conv2 = HeConv2d(k, c_out, c_out, 3, padding=1, bias=fixup, scale=0.0 if fixup else 1.0)
        self.norm2 = _norm(k, c_out, norm)
        self.act2 = conv_activation(factories, c_out)
        self.stride, self.pad = stride, c_out - c_in

    def shortcut(self, x: torch.Tensor) -> torch.Tensor:
        return padded_shortcut(x, self.k, self.stride, self.pad)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.act1(self.norm1(self.conv1(x)))
        out = self.norm2(self.conv2(out))
        result: torch.Tensor = self.act2(out + self.shortcut(x))
        return result


class StackedDigitsResNet(nn.Module):
    """Stem conv, two stages of ``blocks`` basic blocks, global average pooling, linear; input
    ``[K, B, 1, 8, 8]``, output ``[K, B, 10]``."""

    def __init__(self, factories: Sequence[ActivationFactory], width: int, blocks: int, norm: str) -> None:
        super().__init__()
        k = self.k = len(factories)
        widths = (width, 2 * width)
        layers: list[nn.Module] = [HeConv2d(k, 1, width, 3, padding=1, bias=norm == "none"),
                                   _norm(k, width, norm), conv_activation(factories, width)]
        c_in = width
        for stage, c_out in enumerate(widths):
            for i in range(blocks):
                stride = 2 if stage > 0 and i == 0 else 1
                layers.append(BasicBlock(factories, c_in, c_out, stride, norm, depth=blocks * len(widths)))
                c_in = c_out
        self.body = nn.Sequential(*layers)
        self.fc = HeLinear(k, c_in, 10, scale=0.0 if norm == "none" else 1.0)  # Fixup: classifier at 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = self.body(to_channels(x)).mean(dim=(2, 3))  # global average pooling: [B, K*C]
        out: torch.Tensor = self.fc(to_members(pooled, self.k))
        return out


@register("digits-resnet")
class DigitsResNet(DigitsCNN):
    name = "digits-resnet"
    description = ("scikit-learn 8x8 digits, ResNet-14 (2 stages of 3 basic blocks, 8/16 channels; defaults), "
                   "batch norm, He init")
    budget = Budget(steps=200, batch_size=64, lr=3e-3, weight_decay=1e-2)
    quality_floor = 0.2  # chance is 0.1
    # relu, tanh, silu, gelu, sin, softsign, elu: 0.23-0.47 after 25 steps of 200 (sin at 0.23),
    # 0.47-0.88 after 50 of 200 (the default check), 0.29-0.72 after 50 of 400
    quality_min_steps = 50

    def __init__(self, width: int = 8, blocks: int = 3, norm: str = "batch") -> None:
        check_sizes(self.name, width=width, blocks=blocks)
        if norm not in NORMS:
            raise TaskError(f"task {self.name!r}: option norm must be one of {', '.join(NORMS)}; got {norm!r}")
        self.width, self.blocks, self.norm = width, blocks, norm

    def build(self, factories: Sequence[ActivationFactory]) -> nn.Module:
        return StackedDigitsResNet(factories, self.width, self.blocks, self.norm)
