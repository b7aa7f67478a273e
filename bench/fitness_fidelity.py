"""Is the fitness signal honest? Rank correlations on ``mnist1d-mlp`` (or ``--task``).

Over known functions and random samples of the Swish paper's one-unit space (at least 30 in
all), trains every function with two independent seeds at the task's default budget, and once
at ``--multiplier`` (default 4) times that budget, then prints Spearman's rank correlation
between the two seeds (accuracy and validation loss) and between the default and the larger
budget. Rejection is off so that every function gets a fitness; functions that diverge are
left out of the correlations and counted.

    python bench/fitness_fidelity.py [--task mnist1d-mlp] [--option KEY=VALUE]... [--random 18]
        [--multiplier 4] [--steps N] [--lr LR] [--batch-size B] [--bf16]

``--option`` sets a task option (as ``actsearch evaluate --option``); ``--lr`` and
``--batch-size`` override the default budget's, to tune a task's budget before changing it.
``--multiplier 0`` skips the longer run (``budget_spearman`` is then null).

Last line: ``{"functions": n, "seed_spearman": r, "seed_spearman_loss": r,
"budget_spearman": r, "bf16_spearman": r or null, "cpu": …, "kernel_isa": …, ...}``.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from dataclasses import replace
from typing import Any

import numpy as np
from scipy.stats import spearmanr

from evaluator import Budget, Member, RejectionPolicy, Task, get_task, train_population
from evaluator._c_target import describe_cpu
from evaluator._probe import probe
from space import Expr, Space, fingerprint, parse

KNOWN = (
    "relu(x)", "x*sigmoid(x)", "gelu(x)", "tanh(x)", "sigmoid(x)", "softplus(x)", "elu(x)",
    "selu(x)", "x*tanh(softplus(x))", "x^2", "sin(x)", "x + sin(x)^2", "min(x, sin(x))",
    "x*tanh(x)", "x", "abs(x)", "max(x, sigmoid(x))", "cos(x) - x", "atan(x)^2 - x",
    "x*erf(x)",
)


def functions(n_random: int, seed: int) -> list[Expr]:
    chosen = [parse(t) for t in KNOWN]
    seen = {fingerprint(e) for e in chosen}
    space = Space()
    rng = random.Random(seed)
    while len(chosen) < len(KNOWN) + n_random:
        expr = space.to_expr(space.sample(rng))
        if fingerprint(expr) in seen or probe(expr) is not None:
            continue  # constant, affine or non-finite: not informative for a rank correlation
        seen.add(fingerprint(expr))
        chosen.append(expr)
    return chosen


def fitness_table(task: Task, exprs: list[Expr], seed: int, steps: int, bf16: bool = False,
                  budget: Budget | None = None) -> tuple[list, list, float]:
    members = [Member(e, seed) for e in exprs]
    began = time.perf_counter()
    run = train_population(task, members, budget=budget, steps=steps, policy=RejectionPolicy.off(), bf16=bf16)
    elapsed = time.perf_counter() - began
    fitness = [r.fitness if r.status == "ok" else None for r in run.results]
    loss = [r.metrics.get("val_loss") if r.status == "ok" else None for r in run.results]
    return fitness, loss, elapsed / len(exprs)


def spearman(a: list, b: list) -> tuple[float | None, int]:
    """Spearman's rho over the functions both lists scored; None below 3 of them (e.g. the
    validation loss of a regression task, whose fitness already is its validation MSE)."""
    pairs = [(x, y) for x, y in zip(a, b, strict=True) if x is not None and y is not None
             and np.isfinite(x) and np.isfinite(y)]
    if len(pairs) < 3:
        return None, len(pairs)
    xs, ys = zip(*pairs, strict=True)
    return float(spearmanr(xs, ys).statistic), len(pairs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="mnist1d-mlp")
    parser.add_argument("--option", action="append", default=[], metavar="KEY=VALUE", dest="options",
                        help="a task option, repeatable; a value that parses as JSON is JSON, else text")
    parser.add_argument("--random", type=int, default=18)
    parser.add_argument("--multiplier", type=int, default=4)
    parser.add_argument("--steps", type=int, default=None, help="override the default budget's steps")
    parser.add_argument("--lr", type=float, default=None, help="override the default budget's peak learning rate")
    parser.add_argument("--batch-size", type=int, default=None, help="override the default budget's batch size")
    parser.add_argument("--bf16", action="store_true",
                        help="also train seed 0 under bf16 autocast and rank it against fp32 (bf16_spearman)")
    args = parser.parse_args()

    options = task_options(args.options)
    task = get_task(args.task, **options)
    budget = task.budget
    if args.lr is not None:
        budget = replace(budget, lr=args.lr)
    if args.batch_size is not None:
        budget = replace(budget, batch_size=args.batch_size)
    steps = args.steps or budget.steps
    exprs = functions(args.random, seed=2017)
    seed_a, loss_a, sec_a = fitness_table(task, exprs, 0, steps, budget=budget)
    seed_b, loss_b, _ = fitness_table(task, exprs, 1, steps, budget=budget)
    if args.multiplier > 0:
        long_run, _, sec_long = fitness_table(task, exprs, 0, steps * args.multiplier, budget=budget)
    else:
        long_run, sec_long = [None] * len(exprs), 0.0

    rho_seed, n_seed = spearman(seed_a, seed_b)
    rho_loss, _ = spearman(loss_a, loss_b)
    rho_budget, n_budget = spearman(seed_a, long_run)
    rho_bf16 = spearman(seed_a, fitness_table(task, exprs, 0, steps, bf16=True, budget=budget)[0])[0] if args.bf16 else None
    print(f"{'function':<28} {'seed 0':>8} {'seed 1':>8} {f'{args.multiplier}x':>8}")
    order = sorted(range(len(exprs)), key=lambda i: -(seed_a[i] or -1))
    for i in order:
        cells = [f"{v:8.4f}" if v is not None else "    div." for v in (seed_a[i], seed_b[i], long_run[i])]
        if args.multiplier == 0:
            cells[2] = "       -"
        print(f"{str(exprs[i])[:28]:<28} {' '.join(cells)}")
    print(json.dumps({
        "task": args.task, "options": options, "functions": len(exprs), "known": len(KNOWN), "random": args.random,
        "steps": steps, "lr": budget.lr, "batch_size": budget.batch_size, "multiplier": args.multiplier,
        "seed_spearman": _round(rho_seed), "seed_spearman_loss": _round(rho_loss),
        "budget_spearman": _round(rho_budget), "bf16_spearman": _round(rho_bf16),
        "compared_seed": n_seed, "compared_budget": n_budget,
        "seconds_per_candidate_batched": round(sec_a, 3),
        "seconds_per_candidate_batched_long": round(sec_long, 3),
        **describe_cpu(),
    }))


def task_options(pairs: list[str]) -> dict[str, Any]:
    """``["depth=12", "norm=none"]`` → ``{"depth": 12, "norm": "none"}``."""
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise SystemExit(f"--option must be KEY=VALUE, got {pair!r}")
        try:
            options[key] = json.loads(value)
        except json.JSONDecodeError:
            options[key] = value
    return options


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


if __name__ == "__main__":
    main()
