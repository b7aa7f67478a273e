"""What early rejection saves: random candidates of the Swish paper's one-unit space.

Trains ``--n`` random candidates (deduplicated by fingerprint) on ``--task`` (``mnist1d-mlp``) at the
default budget with the default rejection policy, as one population, and reports for each
rejection reason how many candidates it caught and what they cost relative to a full
evaluation (steps trained / planned steps; probe rejections train 0 steps and cost only the
probe's milliseconds). Then checks that rejection is honest: every member rejected during
training is trained again, rejection off, for the whole budget, and its fitness is placed among
the accepted members' (a rejection is *false* when that fitness reaches their median).

Last line: ``{"candidates": n, "rejected": r, "by_reason": {reason: {"count": c,
"mean_cost_fraction": f}}, "steps_saved_fraction": s, "false_rejections": f, ...}``.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import time
from collections import defaultdict
from typing import Any

from evaluator import Member, RejectionPolicy, RunResult, Task, get_task, train_population
from evaluator._probe import probe
from space import Space, fingerprint


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="mnist1d-mlp")
    parser.add_argument("--n", type=int, default=48)
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    task = get_task(args.task)
    space, rng, seen = Space(), random.Random(args.seed), set()
    members: list[Member] = []
    while len(members) < args.n:
        expr = space.to_expr(space.sample(rng))
        if fingerprint(expr) not in seen:
            seen.add(fingerprint(expr))
            members.append(Member(expr, 0))

    began = time.perf_counter()
    for member in members:
        probe(member.expr)
    probe_seconds = (time.perf_counter() - began) / len(members)

    began = time.perf_counter()
    run = train_population(task, members, steps=args.steps)
    elapsed = time.perf_counter() - began

    planned = run.results[0].planned_steps
    by_reason: dict[str, list[float]] = defaultdict(list)
    for result in run.results:
        if result.status != "ok":
            by_reason[str(result.reason)].append(result.steps / planned)
    used = sum(r.steps for r in run.results)
    for reason, costs in sorted(by_reason.items()):
        print(f"{reason:<20} {len(costs):>3} candidates, mean cost {sum(costs) / len(costs):.3f} of a full run")
    honesty = _rejected_trained_fully(task, members, run.results, args.steps)
    print(json.dumps({
        "task": task.name, "candidates": len(members), "planned_steps": planned,
        "ok": sum(r.status == "ok" for r in run.results),
        "rejected": sum(r.status == "rejected" for r in run.results),
        "by_reason": {k: {"count": len(v), "mean_cost_fraction": round(sum(v) / len(v), 4)}
                      for k, v in sorted(by_reason.items())},
        "steps_saved_fraction": round(1 - used / (planned * len(members)), 4),
        "probe_seconds_per_candidate": round(probe_seconds, 4),
        "population_seconds": round(elapsed, 1),
        **honesty,
    }))


def _rejected_trained_fully(task: Task, members: list[Member], results: list[RunResult],
                            steps: int | None) -> dict[str, Any]:
    """Members rejected during training or by the signal-propagation probe (both predict how
    training goes, so both can be wrong; the probe's constant/affine/non-finite verdicts are
    facts), trained again without rejection. ``rejected_in_training`` counts them all."""
    accepted = sorted(r.fitness for r in results if r.status == "ok" and r.fitness is not None)
    again = [i for i, r in enumerate(results)
             if r.status == "rejected" and (r.steps > 0 or r.reason == "signal_propagation")]
    if not again or not accepted:
        return {"rejected_in_training": len(again), "accepted_median": None, "false_rejections": 0,
                "rejected_trained_fully": []}
    median = accepted[len(accepted) // 2]
    full = train_population(task, [members[i] for i in again], steps=steps, policy=RejectionPolicy.off()).results
    rows: list[dict[str, Any]] = []
    for i, result in zip(again, full, strict=True):
        value = result.fitness if result.status == "ok" and math.isfinite(result.fitness or math.nan) else None
        beaten = None if value is None else sum(a < value for a in accepted) / len(accepted)
        rows.append({"expression": str(members[i].expr), "reason": results[i].reason, "full_fitness": value,
                     "beats_accepted_fraction": None if beaten is None else round(beaten, 3)})
        shown = "diverged" if value is None else f"{value:.4f}, beats {beaten:.0%} of the accepted"
        print(f"{results[i].reason:<20} {str(members[i].expr)[:40]:<40} trained fully: {shown}")
    reaching = [r for r in rows if r["full_fitness"] is not None and r["full_fitness"] >= median]
    print(f"accepted median {median:.4f}; {len(reaching)} of {len(rows)} rejected members reach it when trained fully")
    return {"rejected_in_training": len(rows), "accepted_median": round(median, 4),
            "false_rejections": len(reaching), "rejected_trained_fully": rows}


if __name__ == "__main__":
    main()
