"""Population batching vs the one-at-a-time loop on ``mnist1d-mlp``: candidates per hour.

Both sides train the same K random candidates of the Swish paper's one-unit space (rejection
off, so every candidate costs a full evaluation) for ``--steps`` steps with the task's default
budget otherwise, on this machine's cores; the one-at-a-time loop times ``--single``
of them and extrapolates. Prints a table, then the JSON line:
``{"single_per_hour": r1, "batched_per_hour": rK, "ratio": rK / r1, ...}``.

    python bench/eval_throughput.py [--k 32] [--steps 600] [--device cuda] [--bf16]
"""

from __future__ import annotations

import argparse
import json
import random
import time

import torch

from evaluator import Member, RejectionPolicy, get_task, train_population
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
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--single", type=int, default=6, help="candidates timed one at a time")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--bf16", action="store_true")
    args = parser.parse_args()

    task = get_task("mnist1d-mlp")
    task_data(task, torch.device(args.device))
    members = candidates(args.k, seed=0)
    policy = RejectionPolicy.off()
    # warm both paths up (allocator, thread pools) before either is timed
    train_population(task, members[:1], steps=20, policy=policy, device=args.device)
    train_population(task, members, steps=5, policy=policy, device=args.device)

    began = time.perf_counter()
    for member in members[: args.single]:
        train_population(task, [member], steps=args.steps, policy=policy, device=args.device, bf16=args.bf16)
    single = (time.perf_counter() - began) / args.single

    began = time.perf_counter()
    run = train_population(task, members, steps=args.steps, policy=policy, device=args.device, bf16=args.bf16)
    batched = (time.perf_counter() - began) / args.k
    ok = sum(r.status == "ok" for r in run.results)

    result = {
        "task": task.name, "device": args.device, "k": args.k, "steps": args.steps,
        "threads": torch.get_num_threads(), "bf16": args.bf16,
        "single_seconds_per_candidate": round(single, 4),
        "batched_seconds_per_candidate": round(batched, 4),
        "single_per_hour": round(3600 / single, 1),
        "batched_per_hour": round(3600 / batched, 1),
        "ratio": round(single / batched, 2),
        "batched_ok": ok,
    }
    print(f"one at a time: {single:.3f} s/candidate; K={args.k} batched: {batched:.3f} s/candidate")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
