"""Memory footprint of one evaluation batch per built-in task: the numbers behind ``--eval-gpus``.

For every built-in task this builds the default child network as a population of K members
(the runner's Ray batches hold up to 32 requests, so K = 32 is the default population), on the
CPU, and measures with the task's default budget:

* parameters per member, and the bytes of weights + gradients + AdamW state (2 moments);
* the bytes of the task's data, which a worker process keeps on its device (loaded once);
* the peak of tensor memory allocated during two training steps (the second is the steady
  state: the first step's gradients are still alive during its forward pass, and AdamW's
  moments exist), and during one validation chunk (``eval_batch_size`` samples × K);
* the bytes saved for backward (the activations), separately.

Allocations are counted by a dispatch mode that adds every new tensor storage's size when an
operator creates it and subtracts it when the storage is freed: the bytes a CUDA caching
allocator would have to hold, without its rounding, fragmentation or cuBLAS/cuDNN workspaces.
Memory is linear in K (every tensor of a stacked network is per member), so K = 1, 2, 4 are
measured and K = 32 is extrapolated by least squares; where K = 32 is cheap it is measured too
(``k32_measured``) as a check of the fit. ``cifar10-resnet20`` uses synthetic pixels of the real
shapes (no CIFAR-10 download); ``npz`` a synthetic file (10,000 × 64 features, 10 classes, MLP,
and 10,000 × 1 × 28 × 28 images, CNN).

Prints a table, then the JSON line ``{"population": 32, "tasks": {name: {...}}, ...}``.

    python bench/task_footprint.py [--expression 'x*sigmoid(x)'] [--k32]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import weakref
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves

from evaluator import Member, get_task
from evaluator._task import Task, TaskData
from evaluator._train import _DATA, _Trainer
from space import parse

MB = 1e6
POPULATION = 32  # RayExecutor's default batch_size: the most requests one population run holds
MEASURED_K = (1, 2, 4)
# A search candidate of two core units: more element-wise operators than SiLU, so more saved
# activations per site. Sizing should use a candidate like this one, not the cheapest function.
COMPLEX = "max(x * sigmoid(beta * x), sin(x)) * tanh(x)"
CUDA_CONTEXT_MB = 500  # per worker process: CUDA context + cuBLAS/cuDNN handles (typical, driver-dependent)
SLACK = 1.25  # caching-allocator rounding and fragmentation on top of the tensor bytes counted here


class Allocations(TorchDispatchMode):
    """Live and peak bytes of the tensor storages created while the mode is active."""

    def __init__(self) -> None:
        super().__init__()
        self.live = 0
        self.peak = 0

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        inputs = {t.untyped_storage().data_ptr() for t in tree_leaves((args, kwargs)) if isinstance(t, torch.Tensor)}
        out = func(*args, **(kwargs or {}))
        for t in tree_leaves(out):
            if not isinstance(t, torch.Tensor):
                continue
            storage = t.untyped_storage()
            # views and in-place results share an input's storage: nothing new was allocated
            if storage.data_ptr() in inputs or storage.nbytes() == 0:
                continue
            size = storage.nbytes()
            self.live += size
            self.peak = max(self.peak, self.live)
            weakref.finalize(storage, self._free, size)
        return out

    def _free(self, size: int) -> None:
        self.live -= size


def _npz_file(directory: Path, model: str) -> str:
    rng = np.random.default_rng(0)
    shape = (64,) if model == "mlp" else (1, 28, 28)
    arrays: dict[str, np.ndarray] = {}
    for split, n in (("train", 10_000), ("val", 2_000)):
        arrays[f"x_{split}"] = rng.standard_normal((n, *shape)).astype(np.float32)
        arrays[f"y_{split}"] = rng.integers(0, 10, n)
    path = directory / f"synthetic-{model}.npz"
    np.savez(path, **arrays)  # type: ignore[arg-type]
    return str(path)


def _unloaded_cifar() -> Task:
    # The task object needs no data to exist; its data (50,000 + 10,000 uint8 images) is put in
    # the trainer's per-process cache with the real shapes and dtype, so load() never runs.
    task = get_task("cifar10-resnet20", path="(synthetic)")
    gen = torch.Generator().manual_seed(0)
    data = TaskData(torch.randint(0, 256, (50_000, 3, 32, 32), dtype=torch.uint8, generator=gen),
                    torch.randint(0, 10, (50_000,), generator=gen),
                    torch.randint(0, 256, (10_000, 3, 32, 32), dtype=torch.uint8, generator=gen),
                    torch.randint(0, 10, (10_000,), generator=gen))
    _DATA[(repr(sorted(vars(task).items())) + task.name, "cpu")] = data
    return task


def tasks(directory: Path) -> dict[str, Task]:
    return {
        "mnist1d-mlp": get_task("mnist1d-mlp"),
        "digits-cnn": get_task("digits-cnn"),
        "periodic-extrapolation": get_task("periodic-extrapolation"),
        "charlm-transformer": get_task("charlm-transformer"),
        "cifar10-resnet20": _unloaded_cifar(),
        "mnist1d-deep-mlp": get_task("mnist1d-deep-mlp"),
        "mnist1d-resmlp": get_task("mnist1d-resmlp"),
        "digits-resnet": get_task("digits-resnet"),
        "npz (mlp, 64 features)": get_task("npz", path=_npz_file(directory, "mlp"), model="mlp"),
        "npz (cnn, 1x28x28)": get_task("npz", path=_npz_file(directory, "cnn"), model="cnn"),
    }


def measure(task: Task, expression: str, k: int) -> dict[str, float]:
    """Bytes of one population of ``k`` members of ``expression``: a training step and a validation chunk."""
    budget = task.budget
    trainer = _Trainer(task, [Member(parse(expression), seed) for seed in range(k)], budget,
                       torch.device("cpu"), bf16=False)
    params = trainer.params.all_params()
    weights = sum(p.numel() * p.element_size() for p in params)
    n_params = sum(p.numel() for p in params)
    data = sum(t.numel() * t.element_size() for t in (trainer.data.x_train, trainer.data.y_train,
                                                     trainer.data.x_val, trainer.data.y_val))
    saved: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        saved[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    train = Allocations()
    trainer.model.train()
    with train:
        for step in range(2):
            idx = torch.from_numpy(np.stack([s.take(budget.batch_size) for s in trainer.streams]))
            x, y = trainer.data.x_train[idx], trainer.data.y_train[idx]
            if step == 1:
                saved.clear()
            with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
                losses = task.loss(trainer.model(x), y)
            trainer.optimizer.zero_grad(set_to_none=True)
            losses.sum().backward()
            trainer.params.grad_norms()
            trainer.optimizer.step()
            del losses, x, y, idx
    persistent = train.live  # gradients + AdamW moments (+ BN statistics): alive from now on
    evaluation = Allocations()
    with evaluation:
        trainer._evaluate(limit=budget.eval_batch_size)
    return {
        "params_per_member": n_params / k,
        "state": weights + persistent,  # weights + grads + 2 AdamW moments
        "saved": sum(saved.values()),
        "train_peak": weights + train.peak,
        "eval_peak": weights + persistent + evaluation.peak,
        "data": data,
    }


def _fit(ks: list[int], values: list[float], k: int) -> float:
    slope, intercept = np.polyfit(np.asarray(ks, dtype=float), np.asarray(values, dtype=float), 1)
    return float(intercept + slope * k)


def footprint(task: Task, expression: str, with_k32: bool) -> dict[str, Any]:
    rows = {k: measure(task, expression, k) for k in MEASURED_K}
    ks = list(rows)
    out: dict[str, Any] = {"params_per_member": int(round(rows[1]["params_per_member"])),
                           "batch_size": task.budget.batch_size,
                           "eval_batch_size": task.budget.eval_batch_size,
                           "data_mb": round(rows[1]["data"] / MB, 1)}
    for key in ("state", "saved", "train_peak", "eval_peak"):
        out[f"{key}_mb_k1"] = round(rows[1][key] / MB, 2)
        out[f"{key}_mb_k{POPULATION}"] = round(_fit(ks, [rows[k][key] for k in ks], POPULATION) / MB, 1)
    if with_k32:
        direct = measure(task, expression, POPULATION)
        out["k32_measured"] = {f"{key}_mb": round(direct[key] / MB, 1)
                               for key in ("state", "saved", "train_peak", "eval_peak")}
    peak = max(out[f"train_peak_mb_k{POPULATION}"], out[f"eval_peak_mb_k{POPULATION}"])
    need = (out["data_mb"] + peak) * SLACK + CUDA_CONTEXT_MB
    out["gpu_mb_per_process"] = round(need)
    # how many such processes fit on one GPU by memory alone (compute and CPUs usually bind first)
    out["per_gpu_by_memory"] = {f"{gb}GB": int(gb * 1000 // need) for gb in (24, 40, 80)}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--expression", action="append",
                        help=f"candidate(s) to build the population from (default: x*sigmoid(x) and {COMPLEX!r})")
    parser.add_argument("--k32", action="store_true",
                        help="also measure K = 32 directly where it is cheap (not cifar10-resnet20)")
    args = parser.parse_args()
    expressions = args.expression or ["x*sigmoid(x)", COMPLEX]
    torch.manual_seed(0)
    report: dict[str, Any] = {"population": POPULATION, "measured_k": list(MEASURED_K), "unit": "MB (1e6 bytes)",
                              "cuda_context_mb": CUDA_CONTEXT_MB, "slack": SLACK, "expressions": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for name, task in tasks(Path(tmp)).items():
            for expression in expressions:
                cheap = args.k32 and name != "cifar10-resnet20"
                row = footprint(task, expression, cheap)
                report["expressions"].setdefault(expression, {})[name] = row
                print(f"{name:<26} {expression[:28]:<28} params/member {row['params_per_member']:>8,}  "
                      f"state k32 {row['state_mb_k32']:>8.1f}  saved k32 {row['saved_mb_k32']:>8.1f}  "
                      f"train peak k32 {row['train_peak_mb_k32']:>8.1f}  eval peak k32 {row['eval_peak_mb_k32']:>8.1f}  "
                      f"data {row['data_mb']:>6.1f}  GPU/process {row['gpu_mb_per_process']:>6} MB", flush=True)
    print(json.dumps(report, sort_keys=True))


if __name__ == "__main__":
    main()
