"""``digits-cnn``: scikit-learn's bundled 8×8 digits (no download) and a small stacked CNN.

Data: the 1,797 images of ``sklearn.datasets.load_digits``, pixels scaled from 0…16 to [0, 1],
split once into 1,197 training / 600 validation images, stratified by class with a fixed seed,
so every worker and every run sees the same split.

Network (:class:`StackedCNN`): conv 1→16 3×3 pad 1, act, conv 16→32 3×3 stride 2 pad 1, act,
flatten (32·4·4), linear 512→64, act, linear 64→10 — a candidate at every one of the three
activation sites. Flattening rather than global pooling keeps the spatial layout, which is most
of what 8×8 digits carry.

Default budget, and why (measured on this 2-core CPU, one candidate at a time):
``Budget(steps=600, batch_size=64, lr=1e-2, weight_decay=1e-2)`` — AdamW's one-cycle peaking
at 1e-2 — is 32 epochs of the 1,197 images and takes about 2 s per candidate (about 3 s for
a population of 3). Validation accuracy at this budget, mean over seeds 0…4: ReLU 0.978, SiLU
0.977, tanh 0.974, identity 0.946 (a linear model of the pixels is already good on digits, so
the margin over identity is ~3 points — clear, but the task is easy; use it as a fast
smoke/confirm task rather than the one a search ranks on). Longer budgets only raise every
function towards the same 0.98–0.99 ceiling, which shrinks the differences between functions.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from evaluator._budget import Budget
from evaluator._stacked import StackedActivation, StackedConv2d, StackedLinear
from evaluator._task import ActivationFactory, Task, TaskData, register

SPLIT_SEED = 0
VAL_SIZE = 600


def to_channels(x: torch.Tensor) -> torch.Tensor:
    """``[K, B, C, H, W]`` → ``[B, K*C, H, W]``: members side by side, as grouped conv wants."""
    k, b, c, h, w = x.shape
    return x.transpose(0, 1).reshape(b, k * c, h, w)


def to_members(x: torch.Tensor, k: int) -> torch.Tensor:
    """``[B, K*C, …]`` → ``[K, B, C·…]``: member k's features, flattened, for stacked linears."""
    b = x.shape[0]
    return x.reshape(b, k, -1).transpose(0, 1)


def conv_activation(factories: Sequence[ActivationFactory], channels: int) -> StackedActivation:
    # member slices of [B, K*C, H, W] are [B, C, H, W]: per-channel parameters along dim 1
    return StackedActivation([f(channels, 1) for f in factories], split_dim=1)


def dense_activation(factories: Sequence[ActivationFactory], features: int) -> StackedActivation:
    # member slices of [K, B, F] are [1, B, F]: per-channel parameters along the last dim
    return StackedActivation([f(features, -1) for f in factories], split_dim=0)


class StackedCNN(nn.Module):
    """conv 3×3 (stride 1) → act → conv 3×3 (stride 2) → act → flatten → [linear → act] → linear.

    Input ``[K, B, C, H, W]`` (H and W even), output ``[K, B, out]``.
    """

    def __init__(self, factories: Sequence[ActivationFactory], in_shape: tuple[int, int, int],
                 out_features: int, channels: tuple[int, int] = (16, 32), hidden: int | None = 64) -> None:
        super().__init__()
        k = self.k = len(factories)
        c_in, h, w = in_shape
        c1, c2 = channels
        self.features = nn.Sequential(
            StackedConv2d(k, c_in, c1, 3, padding=1), conv_activation(factories, c1),
            StackedConv2d(k, c1, c2, 3, stride=2, padding=1), conv_activation(factories, c2),
        )
        flat = c2 * ((h + 1) // 2) * ((w + 1) // 2)
        head: list[nn.Module] = []
        if hidden is not None:
            head += [StackedLinear(k, flat, hidden), dense_activation(factories, hidden)]
            flat = hidden
        head.append(StackedLinear(k, flat, out_features))
        self.head = nn.Sequential(*head)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.head(to_members(self.features(to_channels(x)), self.k))
        return out


def _load_digits() -> tuple[np.ndarray, ...]:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)[:, None]  # [N, 1, 8, 8] in [0, 1]
    y = digits.target.astype(np.int64)
    parts: list[np.ndarray] = train_test_split(x, y, test_size=VAL_SIZE, stratify=y, random_state=SPLIT_SEED)
    return tuple(parts)  # x_train, x_val, y_train, y_val


@register("digits-cnn")
class DigitsCNN(Task):
    name = "digits-cnn"
    description = "scikit-learn 8x8 digits (1,197 train / 600 val), CNN conv16-conv32/2-fc64-fc10"
    budget = Budget(steps=600, batch_size=64, lr=1e-2, weight_decay=1e-2)
    quality_floor = 0.2  # chance is 0.1; every useful function is above 0.5 after a quarter of the steps

    def load(self) -> TaskData:
        x_train, x_val, y_train, y_val = (torch.from_numpy(a) for a in _load_digits())
        return TaskData(x_train, y_train, x_val, y_val)

    def build(self, factories: Sequence[ActivationFactory]) -> nn.Module:
        return StackedCNN(factories, (1, 8, 8), 10)
