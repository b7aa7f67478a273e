"""What early rejection saves: random candidates of the Swish paper's one-unit space.

Trains ``--n`` random candidates (deduplicated by fingerprint) on ``mnist1d-mlp`` at the
default budget with the default rejection policy, as one population, and reports for each
rejection reason how many candidates it caught and what they cost relative to a full
evaluation (steps trained / planned steps; probe rejections train 0 steps and cost only the
probe's milliseconds).

Last line: ``{"candidates": n, "rejected": r, "by_reason": {reason: {"count": c,
"mean_cost_fraction": f}}, "steps_saved_fraction": s, ...}``.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections import defaultdict

from evaluator import Member, get_task, train_population
from evaluator._probe import probe
from space import Space, fingerprint


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=48)
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    task = get_task("mnist1d-mlp")
    space, rng, seen = Space(), random.Random(args.seed), set()
    members = []
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
    print(json.dumps({
        "task": task.name, "candidates": len(members), "planned_steps": planned,
        "ok": sum(r.status == "ok" for r in run.results),
        "rejected": sum(r.status == "rejected" for r in run.results),
        "by_reason": {k: {"count": len(v), "mean_cost_fraction": round(sum(v) / len(v), 4)}
                      for k, v in sorted(by_reason.items())},
        "steps_saved_fraction": round(1 - used / (planned * len(members)), 4),
        "probe_seconds_per_candidate": round(probe_seconds, 4),
        "population_seconds": round(elapsed, 1),
    }))


if __name__ == "__main__":
    main()
