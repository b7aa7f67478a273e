"""Training-step time per built-in task and population size: what one candidate costs where.

For each task and each K, trains a population of K members (known functions, cycled, one seed
each) for ``--steps`` steps after a warm-up run, and reports the loop's milliseconds per step,
the step time per member, and the seconds one candidate costs at the task's default budget
(default steps × step time / K; validation excluded). ``--full`` also trains each population
through the whole default budget as the evaluator does (split into worker processes on the CPU,
validation included) and reports its wall-clock seconds (``full_seconds``, and per candidate).
``cifar10-resnet20`` reads a synthetic CIFAR-10 directory in the standard python-pickle format
(50,000 + 10,000 random images), written to a temporary folder. ``--kernels`` (CUDA) also counts
the GPU kernels launched per step with the PyTorch profiler: on a GPU, small networks are bound
by launches, not arithmetic.

Prints a line per measurement, then the JSON line ``{"device": …, "rows": [{"task", "k",
"ms_per_step", "ms_per_member_step", "seconds_per_candidate", …}]}``.

    python bench/step_time.py [--task NAME]... [--k 1 --k 32] [--steps 60] [--device cuda] [--bf16] [--kernels] [--full]
"""

from __future__ import annotations

import argparse
import json
import pickle
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from evaluator import Member, RejectionPolicy, Task, get_task, train_population
from evaluator._c_target import describe_cpu
from space import parse

FUNCTIONS = ("relu(x)", "x*sigmoid(x)", "tanh(x)", "max(x, sin(x))", "x*sigmoid(beta*x)", "x + sin(x)^2",
             "gelu(x)", "min(x, 0) + softplus(x)")
TASKS = ("mnist1d-mlp", "digits-cnn", "periodic-extrapolation", "charlm-transformer", "cifar10-resnet20",
         "mnist1d-deep-mlp", "mnist1d-resmlp", "digits-resnet")


def synthetic_cifar(root: Path) -> Path:
    """CIFAR-10's python version with random pixels and labels: the real shapes and format."""
    rng = np.random.default_rng(0)
    for name, count in [(f"data_batch_{i}", 10_000) for i in range(1, 6)] + [("test_batch", 10_000)]:
        batch = {b"data": rng.integers(0, 256, (count, 3072), dtype=np.uint8),
                 b"labels": [int(v) for v in rng.integers(0, 10, count)]}
        with (root / name).open("wb") as f:
            pickle.dump(batch, f)
    return root


def population(k: int) -> list[Member]:
    return [Member(parse(FUNCTIONS[i % len(FUNCTIONS)]), seed=i) for i in range(k)]


def kernels_per_step(task: Task, members: list[Member], device: str, bf16: bool, steps: int) -> float:
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        train_population(task, members, steps=steps, horizon=task.budget.steps, policy=RejectionPolicy.off(),
                         device=device, bf16=bf16)
    launched = sum(e.count for e in prof.key_averages() if e.device_type == torch.autograd.DeviceType.CUDA)
    return launched / steps  # the validation pass at the end is included: an over-estimate by a little


def measure(task: Task, k: int, args: argparse.Namespace) -> dict[str, Any]:
    members = population(k)
    off = RejectionPolicy.off()
    # horizon = the default budget: the learning-rate schedule of a real run; validation is timed apart
    train_population(task, members, steps=5, horizon=task.budget.steps, policy=off, device=args.device, bf16=args.bf16)
    began = time.perf_counter()
    run = train_population(task, members, steps=args.steps, horizon=task.budget.steps, policy=off,
                           device=args.device, bf16=args.bf16)
    wall = time.perf_counter() - began
    ms_per_step = 1000.0 / run.results[0].steps_per_second
    row: dict[str, Any] = {
        "task": task.name, "k": k, "steps": args.steps,
        "ms_per_step": round(ms_per_step, 3),
        "ms_per_member_step": round(ms_per_step / k, 4),
        "seconds_per_candidate": round(task.budget.steps * ms_per_step / 1000.0 / k, 3),
        "wall_seconds": round(wall, 2),
    }
    if args.kernels and args.device.startswith("cuda"):
        row["kernels_per_step"] = round(kernels_per_step(task, members, args.device, args.bf16, 10), 1)
    if args.full:
        began = time.perf_counter()
        full = train_population(task, members, policy=off, device=args.device, bf16=args.bf16)
        row["full_seconds"] = round(time.perf_counter() - began, 2)
        row["full_seconds_per_candidate"] = round(row["full_seconds"] / k, 3)
        row["full_ok"] = sum(r.status == "ok" for r in full.results)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", action="append", choices=TASKS, help="default: every built-in task but npz")
    parser.add_argument("--k", action="append", type=int, help="population sizes (default: 1, 8, 32)")
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--bf16", action="store_true")
    parser.add_argument("--kernels", action="store_true", help="count CUDA kernel launches per step")
    parser.add_argument("--full", action="store_true",
                        help="also time one population through the whole default budget (validation included)")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.task or TASKS:
            options = {"path": str(synthetic_cifar(Path(tmp)))} if name == "cifar10-resnet20" else {}
            task = get_task(name, **options)
            for k in args.k or (1, 8, 32):
                row = measure(task, k, args)
                rows.append(row)
                print(f"{name:<24} K={k:<4} {row['ms_per_step']:>9.2f} ms/step  {row['ms_per_member_step']:>8.3f} ms/member-step"
                      f"  {row['seconds_per_candidate']:>8.2f} s/candidate at {task.budget.steps} steps"
                      + (f"  {row['kernels_per_step']:.0f} kernels/step" if "kernels_per_step" in row else "")
                      + (f"  full budget {row['full_seconds']:.1f} s" if "full_seconds" in row else ""),
                      flush=True)
    print(json.dumps({"device": args.device, **describe_cpu(), "bf16": args.bf16, "threads": torch.get_num_threads(),
                      "device_name": torch.cuda.get_device_name() if args.device.startswith("cuda") else None,
                      "rows": rows}))


if __name__ == "__main__":
    main()
