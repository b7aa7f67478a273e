"""``cifar10-resnet20``: the Swish paper's child network — ResNet-20 on CIFAR-10, stacked.

"Searching for Activation Functions" (Ramachandran, Zoph, Le 2017) scored every candidate by
training ResNet-20 on CIFAR-10 for 10K steps. ResNet-20 is the CIFAR network of "Deep Residual
Learning for Image Recognition" (He et al. 2016): a 3×3 conv with 16 channels, then 3 stages ×
3 basic blocks with 16/32/64 channels (stride 2 entering stages 2 and 3), global average
pooling and a linear layer; BatchNorm after every conv. Shortcuts are **option A** as in He et
al.'s CIFAR experiments: identity, or stride-2 subsampling plus zero-padded channels where the
shape changes — parameter-free, so every parameter stays in a stacked layer. The candidate is
applied at all 19 activation sites (after the stem and after both convs of every block, the
second one after the residual sum). Convs use PyTorch's default initialisation (the stacked
layers' init), BatchNorm starts at weight 1 / bias 0; ``nn.BatchNorm2d(K*C)`` normalises per
channel, so on the ``[B, K*C, H, W]`` layout every member has its own statistics.

Data is never downloaded: it is read from a local directory in the standard "CIFAR-10 python
version" layout (``data_batch_1`` … ``data_batch_5``, ``test_batch``), given by the task option
``path`` or ``$ACTSEARCH_CIFAR10_DIR``. The 50,000 training images train; the 10,000 test
images are the validation set the search ranks on (10,000 images resolve accuracy to 0.01 %; a
search ranks functions, and its winners are confirmed on other tasks). Pixels stay ``uint8`` in
memory (150 MB instead of 600 MB per worker process) and are normalised inside the network.
The pickles are read by a restricted unpickler that only rebuilds dicts, lists, bytes and numpy
arrays: a data directory is configuration, not code.

No augmentation: random crops and flips would need a random stream per member (to keep a member
of a population identical to the member alone), and tasks are not handed the members' seeds.
Without it ResNet-20 overfits after a few epochs and reaches a few points below the usual 91 %,
which moves every function alike; ranking is what the search needs.

Default budget, and why: 10,000 steps (the Swish paper's per-candidate budget) at batch 128,
about 26 epochs; AdamW with the one-cycle schedule peaking at 3e-3 and decoupled weight decay
5e-2 (the usual AdamW-with-BatchNorm setting; stronger than for the MLP tasks because nothing
else regularises). Meant for GPU workers (``device_hint = "cuda"``): on a 2-core CPU one step
takes a large fraction of a second, i.e. hours per candidate. The recipe was not tuned on real
CIFAR-10 here (no data offline, no GPU in that session): re-measure seed-to-seed rank
correlation before relying on it.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from evaluator._budget import Budget
from evaluator._stacked import StackedConv2d, StackedLinear, padded_shortcut
from evaluator._task import ActivationFactory, Task, TaskData, TaskError, register
from evaluator.tasks.digits import conv_activation, to_channels, to_members

ENV_VAR = "ACTSEARCH_CIFAR10_DIR"
TRAIN_FILES = tuple(f"data_batch_{i}" for i in range(1, 6))
VAL_FILE = "test_batch"
# the usual CIFAR-10 channel statistics; constants, so the validation set never leaks into them
MEAN = (0.4914, 0.4822, 0.4465)
STD = (0.2470, 0.2435, 0.2616)


class _ArraysOnly(pickle.Unpickler):
    _ALLOWED = {
        ("numpy", "ndarray"), ("numpy", "dtype"),
        ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
        ("builtins", "bytearray"), ("__builtin__", "bytearray"), ("_codecs", "encode"),
    }

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"{module}.{name} is not allowed in a CIFAR-10 batch")
        return super().find_class(module, name)


def _read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        with path.open("rb") as f:
            batch = _ArraysOnly(f, encoding="bytes").load()
        data = np.asarray(batch.get(b"data", batch.get("data")))
        labels = np.asarray(batch.get(b"labels", batch.get("labels")), dtype=np.int64)
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, TypeError, ValueError) as exc:
        raise TaskError(f"{path} is not a CIFAR-10 python batch (a pickled dict with b'data' and "
                        f"b'labels'): {exc}") from None
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        raise TaskError(f"{path}: b'data' must be uint8 [N, 3072], got {data.dtype} {list(data.shape)}")
    if labels.shape != (data.shape[0],) or labels.min(initial=0) < 0 or labels.max(initial=0) > 9:
        raise TaskError(f"{path}: b'labels' must be N = {data.shape[0]} integers in 0..9")
    return data.reshape(-1, 3, 32, 32), labels


def resolve_dir(path: str | os.PathLike[str] | None) -> Path:
    """The CIFAR-10 directory, checked: a :class:`TaskError` saying what is missing and how to fix it."""
    raw = path if path is not None else os.environ.get(ENV_VAR)
    expected = ", ".join((*TRAIN_FILES, VAL_FILE))
    if not raw:
        raise TaskError(f"cifar10-resnet20 needs CIFAR-10 on local disk (it never downloads): pass the task "
                        f"option path=DIR or set ${ENV_VAR} to a directory holding {expected} "
                        f"(the 'CIFAR-10 python version' files)")
    root = Path(raw).expanduser()
    missing = [name for name in (*TRAIN_FILES, VAL_FILE) if not (root / name).is_file()]
    if missing:
        where = "directory does not exist" if not root.is_dir() else f"missing {', '.join(missing)}"
        raise TaskError(f"CIFAR-10 directory {str(root)!r} ({where}): expected {expected} "
                        f"(the 'CIFAR-10 python version' files), from the task option path or ${ENV_VAR}")
    return root


class _BasicBlock(nn.Module):
    def __init__(self, factories: Sequence[ActivationFactory], c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        k = self.k = len(factories)
        self.conv1 = StackedConv2d(k, c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(k * c_out)
        self.act1 = conv_activation(factories, c_out)
        self.conv2 = StackedConv2d(k, c_out, c_out, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(k * c_out)
        self.act2 = conv_activation(factories, c_out)
        self.stride, self.pad = stride, c_out - c_in

    def shortcut(self, x: torch.Tensor) -> torch.Tensor:
        return padded_shortcut(x, self.k, self.stride, self.pad)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.act1(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        result: torch.Tensor = self.act2(out + self.shortcut(x))
        return result


class StackedResNet20(nn.Module):
    """ResNet-20 for K members; input ``[K, B, 3, 32, 32]`` (uint8 or float pixels in 0…255)."""

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, factories: Sequence[ActivationFactory], num_classes: int = 10,
                 widths: tuple[int, int, int] = (16, 32, 64), blocks: int = 3) -> None:
        super().__init__()
        k = self.k = len(factories)
        self.register_buffer("mean", torch.tensor(MEAN).mul(255.0).repeat(k).reshape(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(STD).mul(255.0).repeat(k).reshape(1, -1, 1, 1))
        layers: list[nn.Module] = [StackedConv2d(k, 3, widths[0], 3, padding=1, bias=False),
                                   nn.BatchNorm2d(k * widths[0]), conv_activation(factories, widths[0])]
        c_in = widths[0]
        for stage, width in enumerate(widths):
            for i in range(blocks):
                layers.append(_BasicBlock(factories, c_in, width, 2 if stage > 0 and i == 0 else 1))
                c_in = width
        self.body = nn.Sequential(*layers)
        self.fc = StackedLinear(k, c_in, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = (to_channels(x).float() - self.mean) / self.std
        pooled = self.body(x).mean(dim=(2, 3))  # global average pooling: [B, K*64]
        out: torch.Tensor = self.fc(to_members(pooled, self.k))
        return out


@register("cifar10-resnet20")
class Cifar10ResNet20(Task):
    name = "cifar10-resnet20"
    description = "CIFAR-10 from a local directory, ResNet-20 (the Swish paper's child network)"
    budget = Budget(steps=10_000, batch_size=128, lr=3e-3, weight_decay=5e-2, eval_batch_size=1000)
    quality_floor = 0.2  # chance is 0.1; a quarter of the budget is ~6 epochs
    quality_min_steps = 1000  # ~2.5 epochs: not measured on CIFAR-10 (none here); kept generous
    device_hint = "cuda"

    def __init__(self, path: str | None = None) -> None:
        # resolved now, so the process-wide data cache (keyed on the task's attributes) sees it;
        # checked in load(), so listing and describing the task works without the data
        self.path = str(path) if path is not None else os.environ.get(ENV_VAR)

    def load(self) -> TaskData:
        root = resolve_dir(self.path)
        train = [_read_batch(root / name) for name in TRAIN_FILES]
        x_val, y_val = _read_batch(root / VAL_FILE)
        return TaskData(
            torch.from_numpy(np.concatenate([x for x, _ in train])), torch.from_numpy(np.concatenate([y for _, y in train])),
            torch.from_numpy(x_val), torch.from_numpy(y_val),
        )

    def build(self, factories: Sequence[ActivationFactory]) -> nn.Module:
        return StackedResNet20(factories)
