"""``npz``: a user's own data set — one ``.npz`` with ``x_train, y_train, x_val, y_val``.

Options: ``path`` (the file) and ``model``: ``"mlp"`` flattens every sample and trains an MLP
in-128-128-out; ``"cnn"`` expects images ``[N, C, H, W]`` and trains a small CNN (conv 32, conv
64 stride 2, global average pooling, linear 64, linear out; a candidate at every activation
site). Integer or boolean ``y`` (labels ``0…n-1``, shape ``[N]``) is classification with
cross-entropy and validation accuracy as fitness; floating ``y`` (``[N]`` or ``[N, T]``) is
regression with MSE and fitness ``-val_mse``. ``kind`` (``"classification"`` or
``"regression"``) overrides that guess: labels saved as floats (read from a CSV, say) are whole
numbers that train as classes, integer targets (counts) train as regression. Inputs are
standardised with training-set statistics (per feature for the MLP, per channel for the CNN);
regression networks predict standardised targets and map them back, so ``val_mse`` is in the
user's units while training stays well-conditioned.

Every array is checked when the task is created, so a bad file fails at job submission with a
message naming the array and the problem, not minutes later on a worker. Files are read with
``allow_pickle=False``: object arrays are refused, never unpickled.

Default budget, and why: nothing is known about the data, so the defaults are the recipe that
gave an honest signal on the MNIST-1D MLP (BACKGROUND.md): AdamW, one-cycle peaking at 3e-3,
weight decay 1e-2, batch 128, 2,000 steps (a few seconds per candidate for small tabular data
on CPU). Pass ``budget=`` to ``train_population`` to fit a larger data set.
"""

from __future__ import annotations

import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from evaluator._budget import Budget
from evaluator._data import standardize
from evaluator._task import ActivationFactory, Task, TaskData, TaskError, register
from evaluator.tasks.digits import StackedCNN
from evaluator.tasks.mnist1d import StackedMLP

ARRAYS = ("x_train", "y_train", "x_val", "y_val")
MODELS = ("mlp", "cnn")
KINDS = ("auto", "classification", "regression")
_CHANNEL_COUNTS = (1, 3, 4)  # grey, RGB, RGBA: what a channels-last image's last axis holds


@dataclass(frozen=True)
class _Checked:
    arrays: dict[str, np.ndarray]
    regression: bool
    out_features: int


def _read(path: str, model: str, kind: str = "auto") -> _Checked:
    """The file's arrays, validated; every problem a :class:`TaskError` naming the array."""
    file = Path(path).expanduser()
    if not file.is_file():
        raise TaskError(f"npz file {str(file)!r} does not exist")
    try:
        with np.load(file, allow_pickle=False) as data:
            missing = [name for name in ARRAYS if name not in data.files]
            if missing:
                raise TaskError(f"{file}: missing array(s) {', '.join(missing)}; an npz task needs "
                                f"{', '.join(ARRAYS)} (found: {', '.join(data.files) or 'none'})")
            arrays = {name: data[name] for name in ARRAYS}
    except TaskError:
        raise
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise TaskError(f"{file} is not a readable .npz of plain numeric arrays: {exc}") from None
    arrays = _targets_as(kind, arrays)
    _check(arrays, model)
    y = arrays["y_train"]
    regression = y.dtype.kind == "f"
    if regression:
        out = 1 if y.ndim == 1 else y.shape[1]
    else:
        out = int(max(y.max(), arrays["y_val"].max())) + 1
    return _Checked(arrays, regression, out)


def _targets_as(kind: str, a: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """``y_train`` and ``y_val`` cast to what ``kind`` trains on; booleans are class labels.
    Non-numeric targets are left for :func:`_check` to name."""
    out = dict(a)
    for name in ("y_train", "y_val"):
        y = a[name]
        if y.dtype.kind == "b" or (kind == "regression" and y.dtype.kind in "iu"):
            out[name] = y.astype(np.float64 if kind == "regression" else np.int64)
        elif kind == "classification" and y.dtype.kind == "f":
            whole = np.isfinite(y) & (y == np.round(y))
            if not whole.all():
                at = tuple(int(i) for i in np.argwhere(~whole)[0])
                raise TaskError(f"{name} must hold whole-number class labels for kind=classification; "
                                f"found {y[at].item()!r} at index {at}")
            out[name] = y.astype(np.int64)
    return out


def _check(a: dict[str, np.ndarray], model: str) -> None:
    for name, arr in a.items():
        if arr.dtype.kind not in "biuf":
            raise TaskError(f"{name} has dtype {arr.dtype}; arrays must be numeric")
        if arr.ndim == 0 or arr.shape[0] == 0:
            raise TaskError(f"{name} is empty (shape {list(arr.shape)})")
        if arr.dtype.kind == "f" and not np.isfinite(arr).all():
            bad = np.argwhere(~np.isfinite(arr))
            raise TaskError(f"{name} contains {len(bad)} NaN or infinite value(s), the first at index "
                            f"{tuple(int(i) for i in bad[0])}")
    for split in ("train", "val"):
        x, y = a[f"x_{split}"], a[f"y_{split}"]
        if x.shape[0] != y.shape[0]:
            raise TaskError(f"x_{split} has {x.shape[0]} samples but y_{split} has {y.shape[0]}")
    x_train, y_train, x_val, y_val = (a[n] for n in ARRAYS)
    if model == "cnn" and x_train.ndim != 4:
        raise TaskError(f"model 'cnn' needs x_train as images [N, C, H, W]; got shape {list(x_train.shape)}")
    if model == "cnn" and x_train.shape[3] in _CHANNEL_COUNTS and x_train.shape[1] not in _CHANNEL_COUNTS:
        # [N, H, W, C] (TensorFlow's layout) read as [N, C, H, W] trains on scrambled images
        raise TaskError(f"x_train {list(x_train.shape)} looks channels-last [N, H, W, C]; model 'cnn' needs "
                        f"[N, C, H, W]: save np.transpose(x, (0, 3, 1, 2))")
    if model == "mlp" and x_train.ndim < 2:
        raise TaskError(f"x_train must be [N, features…]; got shape {list(x_train.shape)}")
    if x_val.shape[1:] != x_train.shape[1:]:
        raise TaskError(f"x_val samples have shape {list(x_val.shape[1:])} but x_train samples {list(x_train.shape[1:])}")
    kinds = {y_train.dtype.kind, y_val.dtype.kind}
    if kinds <= set("iu"):
        for name in ("y_train", "y_val"):
            if a[name].ndim != 1:
                raise TaskError(f"{name} holds integer class labels and must be 1-D [N]; got {list(a[name].shape)}")
            if a[name].min() < 0:
                raise TaskError(f"{name} has a negative class label ({a[name].min()}); labels are 0…n-1")
    elif kinds == {"f"}:
        if y_train.ndim > 2 or y_val.shape[1:] != y_train.shape[1:]:
            raise TaskError(f"regression targets must be [N] or [N, T] with the same T; got y_train "
                            f"{list(y_train.shape)} and y_val {list(y_val.shape)}")
    else:
        raise TaskError(f"y_train ({y_train.dtype}) and y_val ({y_val.dtype}) must both be integer "
                        f"(classification) or both floating (regression), or set the task option kind")


class _Rescaled(nn.Module):
    """The network predicts standardised targets; this maps them back to the data's units."""

    def __init__(self, net: nn.Module, k: int, mean: Sequence[float], std: Sequence[float]) -> None:
        super().__init__()
        self.net = net
        # one copy per member, [K, 1, T]: buffers are cut per member (``reshape(K, -1)[k]``)
        # when multi-fidelity moves a member's state between populations
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).repeat(k, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).repeat(k, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.net(x) * self.std + self.mean
        return out


class _NpzBase(Task):
    name = "npz"
    description = "your own .npz (x_train, y_train, x_val, y_val), MLP or small CNN"
    budget = Budget(steps=2000, batch_size=128, lr=3e-3, weight_decay=1e-2)

    def __init__(self, path: str, model: str, kind: str, in_shape: tuple[int, ...], out_features: int) -> None:
        self.path, self.model, self.kind = path, model, kind
        self.in_shape, self.out_features = in_shape, out_features

    def _inputs(self, x_train: np.ndarray, x_val: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        x_train, x_val = x_train.astype(np.float32), x_val.astype(np.float32)
        if self.model == "mlp":
            flat = standardize(x_train.reshape(len(x_train), -1), x_val.reshape(len(x_val), -1))
            return torch.from_numpy(flat[0]), torch.from_numpy(flat[1])
        mean = x_train.mean(axis=(0, 2, 3), keepdims=True)  # per channel, as the convs see it
        std = x_train.std(axis=(0, 2, 3), keepdims=True) + 1e-8
        return torch.from_numpy((x_train - mean) / std), torch.from_numpy((x_val - mean) / std)

    def _network(self, factories: Sequence[ActivationFactory]) -> nn.Module:
        if self.model == "mlp":
            return StackedMLP(factories, [int(np.prod(self.in_shape)), 128, 128, self.out_features])
        c, h, w = self.in_shape
        return StackedCNN(factories, (c, h, w), self.out_features, channels=(32, 64), hidden=64, pool=True)


class NpzClassification(_NpzBase):
    def load(self) -> TaskData:
        a = _read(self.path, self.model, self.kind).arrays
        x_train, x_val = self._inputs(a["x_train"], a["x_val"])
        return TaskData(x_train, torch.from_numpy(a["y_train"].astype(np.int64)),
                        x_val, torch.from_numpy(a["y_val"].astype(np.int64)))

    def build(self, factories: Sequence[ActivationFactory]) -> nn.Module:
        return self._network(factories)


class NpzRegression(_NpzBase):
    objective = "val_mse"
    maximize = False

    def __init__(self, path: str, model: str, kind: str, in_shape: tuple[int, ...], out_features: int,
                 target_mean: tuple[float, ...], target_std: tuple[float, ...]) -> None:
        super().__init__(path, model, kind, in_shape, out_features)
        self.target_mean, self.target_std = target_mean, target_std

    def load(self) -> TaskData:
        a = _read(self.path, self.model, self.kind).arrays
        x_train, x_val = self._inputs(a["x_train"], a["x_val"])
        # targets as [N, T] always, matching the network's [K, B, T] output
        y_train, y_val = (torch.from_numpy(a[n].astype(np.float32).reshape(len(a[n]), -1)) for n in ("y_train", "y_val"))
        return TaskData(x_train, y_train, x_val, y_val)

    def build(self, factories: Sequence[ActivationFactory]) -> nn.Module:
        return _Rescaled(self._network(factories), len(factories), self.target_mean, self.target_std)

    def loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return (output.float() - target).pow(2).reshape(output.shape[0], -1).mean(dim=1)

    def metrics(self, output: torch.Tensor, target: torch.Tensor) -> dict[str, torch.Tensor]:
        # sums over every target value; units() (numel of one member's chunk) turns them into a mean
        return {"val_mse": (output.float() - target).pow(2).reshape(output.shape[0], -1).sum(dim=1)}


@register("npz")
def npz_task(path: str, model: str = "mlp", kind: str = "auto") -> Task:
    """The ``npz`` task for ``path``: classification or regression, decided by ``y``'s dtype
    unless ``kind`` says which."""
    if model not in MODELS:
        raise TaskError(f"npz model must be one of {', '.join(MODELS)}; got {model!r}")
    if kind not in KINDS:
        raise TaskError(f"npz kind must be one of {', '.join(KINDS)}; got {kind!r}")
    checked = _read(str(path), model, kind)
    in_shape = tuple(int(d) for d in checked.arrays["x_train"].shape[1:])
    if not checked.regression:
        return NpzClassification(str(path), model, kind, in_shape, checked.out_features)
    y = checked.arrays["y_train"].astype(np.float64).reshape(len(checked.arrays["y_train"]), -1)
    std = np.where(y.std(axis=0) > 0, y.std(axis=0), 1.0)  # a constant target: do not divide by 0
    return NpzRegression(str(path), model, kind, in_shape, checked.out_features,
                         tuple(float(v) for v in y.mean(axis=0)), tuple(float(v) for v in std))
