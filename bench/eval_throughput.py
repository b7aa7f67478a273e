"""Population batching vs the one-at-a-time loop on ``mnist1d-mlp``: candidates per hour.

Both sides train the same K random candidates of the Swish paper's one-unit space (rejection
off, so every candidate costs a full evaluation) with the task's default budget (``--steps``
overrides the step count), on this machine's cores; the one-at-a-time loop times ``--single``
of them and extrapolates (``--repeats``: medians of alternating measurements; this machine's
timings vary by ±10–20 % from run to run). Fused CPU kernels are compiled into an empty cache, so both sides
pay for compiling their candidates as a search with new candidates does (on CUDA, the
population's jiterator kernel is compiled at its first call; ``--no-fused``: the PyTorch code
only). The population trains as the evaluator trains it by default — on the CPU,
split into one worker process per core (``--processes 1``: in this process with all threads);
the workers start during the warm-up, as a service's first population starts them. Prints a
line per side, then the JSON line:
``{"single_per_hour": r1, "batched_per_hour": rK, "ratio": rK / r1, ...}``.

    python bench/eval_throughput.py [--k 32] [--steps N] [--single 6] [--repeats 1] [--device cuda] [--bf16] [--no-fused]
        [--processes N]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import tempfile
import time

import torch

from evaluator import Member, RejectionPolicy, _fused, get_task, train_population
from evaluator._c_target import describe_cpu
from evaluator._parallel import processes_for
from evaluator._train import task_data
from space import Space


def candidates(k: int, seed: int) -> list[Member]:
    space = Space(unary=("x", "neg", "abs", "square", "sin", "cos", "tanh", "atan", "relu", "sigmoid",
                         "softplus", "erf", "gauss", "asinh"),
                  binary=("add", "mul", "sub", "max", "min"))
    rng = random.Random(seed)
    out: list[Member] = []
    while len(out) < k:
        expr = space.to_expr(space.sample(rng))
        if expr.depends_on_x():
            out.append(Member(expr, seed=len(out)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--k", type=int, default=32)
    parser.add_argument("--steps", type=int, default=None, help="default: the task's budget")
    parser.add_argument("--single", type=int, default=6, help="candidates timed one at a time")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--bf16", action="store_true")
    parser.add_argument("--no-fused", action="store_true", help="train with the PyTorch code only")
    parser.add_argument("--repeats", type=int, default=1, help="measure both sides this often; medians")
    parser.add_argument("--processes", type=int, default=None,
                        help="worker processes for the population (default: the evaluator's choice; 1: this process)")
    args = parser.parse_args()
    if args.no_fused:
        os.environ[_fused.FUSED_ENV] = "0"
    kernels = tempfile.mkdtemp(prefix="actsearch-bench-kernels-")
    # an empty kernel cache (an environment setting, so population worker processes use it too):
    # compiling is part of the cost
    os.environ[_fused.KERNEL_CACHE_ENV] = kernels

    task = get_task("mnist1d-mlp")
    args.steps = args.steps or task.budget.steps
    task_data(task, torch.device(args.device))
    members = candidates(args.k, seed=0)
    policy = RejectionPolicy.off()
    # warm both paths up (allocator, thread pools) before either is timed, on other candidates
    warm = candidates(args.k, seed=1)
    train_population(task, warm[:1], steps=20, policy=policy, device=args.device)
    began = time.perf_counter()  # starts the population's worker processes, as a service's first population does
    train_population(task, warm, steps=5, policy=policy, device=args.device, processes=args.processes)
    warm_seconds = time.perf_counter() - began

    singles, batcheds = [], []
    for _ in range(args.repeats):  # alternating, so a noisy neighbour hits both sides alike
        os.environ[_fused.KERNEL_CACHE_ENV] = tempfile.mkdtemp(dir=kernels)
        began = time.perf_counter()
        for member in members[: args.single]:
            train_population(task, [member], steps=args.steps, policy=policy, device=args.device, bf16=args.bf16)
        singles.append((time.perf_counter() - began) / args.single)

        began = time.perf_counter()
        run = train_population(task, members, steps=args.steps, policy=policy, device=args.device, bf16=args.bf16,
                               processes=args.processes)
        batcheds.append((time.perf_counter() - began) / args.k)
    single, batched = statistics.median(singles), statistics.median(batcheds)
    ok = sum(r.status == "ok" for r in run.results)

    compile_seconds = None
    if _fused.enabled() and args.device == "cpu":
        os.environ[_fused.KERNEL_CACHE_ENV] = tempfile.mkdtemp(dir=kernels)
        began = time.perf_counter()
        _fused.population_kernel([m.expr for m in members])
        compile_seconds = round(time.perf_counter() - began, 2)

    result = {
        "task": task.name, "device": args.device, **describe_cpu(), "k": args.k, "steps": args.steps,
        "threads": torch.get_num_threads(), "bf16": args.bf16,
        "processes": args.processes or processes_for(args.k, torch.device(args.device)),
        "first_population_seconds": round(warm_seconds, 2),
        "fused_kernels": _fused.enabled(),  # C kernels on CPUs, one jiterator kernel on CUDA
        "single_seconds_per_candidate": round(single, 4),
        "batched_seconds_per_candidate": round(batched, 4),
        "single_per_hour": round(3600 / single, 1),
        "batched_per_hour": round(3600 / batched, 1),
        "ratio": round(single / batched, 2),
        "batched_ok": ok,
        "compile_seconds_k": compile_seconds,
        "repeats": args.repeats,
        "ratios": [round(a / b, 2) for a, b in zip(singles, batcheds, strict=True)],
    }
    print(f"one at a time: {single:.3f} s/candidate; K={args.k} batched: {batched:.3f} s/candidate")
    print(json.dumps(result))
    shutil.rmtree(kernels, ignore_errors=True)


if __name__ == "__main__":
    main()
