"""Which low rung ranks like the full budget: a stretch of the full schedule, or a short one?

Multi-fidelity jobs (``fidelity.rungs``) train each rung as a stretch of the last rung's
learning-rate schedule, so a promoted candidate continues from its checkpoint instead of
training again. The price: a low rung is scored mid-schedule (in warm-up, at a high learning
rate), not at the end of a complete short schedule. This measures both against the full
budget over the functions of ``bench/fitness_fidelity.py``: Spearman's rho of each rung's
fitness with the full run's, and where the full run's best functions rank at each rung.

    python bench/rung_fidelity.py [--task mnist1d-mlp] [--random 18] [--rungs 333 --rungs 1000]

Last line: ``{"rungs": [...], "steps": n, "stretch_spearman": [...], "short_spearman": [...], ...}``.
"""

from __future__ import annotations

import argparse
import json
import time

from fitness_fidelity import functions, spearman

from evaluator import Member, RejectionPolicy, geometric_rungs, get_task, train_population
from space import Expr


def fitness(task_name: str, exprs: list[Expr], steps: int, horizon: int) -> list[float | None]:
    run = train_population(get_task(task_name), [Member(e, 0) for e in exprs], steps=steps, horizon=horizon,
                           policy=RejectionPolicy.off())
    return [r.fitness if r.status == "ok" else None for r in run.results]


def worst_rank_of_best(rung: list[float | None], full: list[float | None], top: int) -> int | None:
    """The lowest rank (1 = best) that the full run's ``top`` best functions hold at the rung:
    a rung keeping its best 1/eta keeps all of them when this is at most n/eta."""
    scored = [i for i in range(len(full)) if full[i] is not None and rung[i] is not None]
    if len(scored) < top:
        return None
    by_rung = sorted(scored, key=lambda i: -rung[i])  # type: ignore[operator]
    best = sorted(scored, key=lambda i: -full[i])[:top]  # type: ignore[operator]
    return max(by_rung.index(i) + 1 for i in best)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="mnist1d-mlp")
    parser.add_argument("--random", type=int, default=18)
    parser.add_argument("--rungs", type=int, action="append", help="lower rungs (default: geometric, eta 3)")
    parser.add_argument("--steps", type=int, default=None, help="the last rung (default: the task's budget)")
    parser.add_argument("--top", type=int, default=3)
    args = parser.parse_args()

    steps = args.steps or get_task(args.task).budget.steps
    rungs = sorted(args.rungs) if args.rungs else list(geometric_rungs(steps, 3, 3)[:-1])
    exprs = functions(args.random, seed=2017)
    began = time.perf_counter()
    full = fitness(args.task, exprs, steps, steps)
    stretch = [fitness(args.task, exprs, r, steps) for r in rungs]  # what a checkpoint continues
    short = [fitness(args.task, exprs, r, r) for r in rungs]  # a complete schedule of r steps
    print(f"{'rung':>6} {'stretch rho':>12} {'short rho':>10} {'worst rank of top':>18}")
    rows = []
    for r, a, b in zip(rungs, stretch, short, strict=True):
        row = {"rung": r, "stretch_spearman": spearman(a, full)[0], "short_spearman": spearman(b, full)[0],
               "stretch_worst_rank_of_top": worst_rank_of_best(a, full, args.top),
               "short_worst_rank_of_top": worst_rank_of_best(b, full, args.top)}
        rows.append(row)
        print(f"{r:>6} {row['stretch_spearman'] or float('nan'):>12.3f} {row['short_spearman'] or float('nan'):>10.3f}"
              f" {row['stretch_worst_rank_of_top']!s:>8} / {row['short_worst_rank_of_top']!s:<8}")
    print(json.dumps({
        "task": args.task, "functions": len(exprs), "steps": steps, "rungs": rungs, "top": args.top,
        "stretch_spearman": [_round(r["stretch_spearman"]) for r in rows],
        "short_spearman": [_round(r["short_spearman"]) for r in rows],
        "stretch_worst_rank_of_top": [r["stretch_worst_rank_of_top"] for r in rows],
        "short_worst_rank_of_top": [r["short_worst_rank_of_top"] for r in rows],
        "seconds": round(time.perf_counter() - began, 1),
    }))


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


if __name__ == "__main__":
    main()
