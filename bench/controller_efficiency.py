"""Sample efficiency of every controller on the tabular benchmark (lookups, no training).

Reads the table written by ``bench/build_table.py`` and runs each controller for ``--seeds``
seeds: every proposal's fitness is looked up by fingerprint (a missing or rejected function
counts as an evaluation with no fitness). Reports per controller the evaluations until one of
the table's 5 best functions is evaluated (median and interquartile range over seeds) and the
median best fitness after 50, 100 and 200 evaluations, and that median as a fraction of random
search's (``vs_random``). Last line, one object per controller:
``{"random": {"evals_to_top5_median": m, "evals_to_top5_iqr": [q1, q3], "best_at_50": f, …, "vs_random": r}, …}``.
Run it on each table: ``mnist1d_one_unit`` (the shallow fitness) and ``default_one_unit`` (the
JobSpec's default fitness, ``build_table.py --fitness default``).

    python bench/controller_efficiency.py [--table bench/data/default_one_unit.json.gz] [--seeds 20]
"""

from __future__ import annotations

import argparse
import gzip
import json
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

import search.controllers  # noqa: F401  (registers every built-in controller)
from search import CONTROLLERS, Result, make_controller
from space import Space, fingerprint

CHECKPOINTS = (50, 100, 200)


def load(path: Path) -> tuple[Space, dict[str, float | None]]:
    with gzip.open(path, "rt") as f:
        data = json.load(f)
    return Space.from_json(data["space"]), {row["fingerprint"]: row["fitness"] for row in data["rows"]}


def one_run(kind: str, space: Space, table: dict[str, float | None], top5: set[str], seed: int,
            max_evals: int) -> tuple[int | None, list[float]]:
    """Evaluations until a top-5 function (None: never within ``max_evals``) and best-so-far."""
    controller = make_controller(kind, space, seed=seed)
    best, hit = -np.inf, None
    trace: list[float] = []
    while len(trace) < max_evals:
        proposals = controller.ask(1)
        if not proposals:
            break  # the controller has exhausted the space
        expr = proposals[0]
        key = fingerprint(expr)
        fitness = table.get(key)
        controller.tell([Result(expr, fitness)])
        if fitness is not None:
            best = max(best, fitness)
        trace.append(best)
        if hit is None and key in top5:
            hit = len(trace)
        if hit is not None and len(trace) >= max(CHECKPOINTS):
            break  # both figures are known: the hit and the best-so-far at every checkpoint
    return hit, trace


def summarize(hits: Sequence[int | None], traces: Sequence[list[float]], max_evals: int) -> dict[str, Any]:
    counts = [h if h is not None else max_evals for h in hits]
    q1, _, q3 = statistics.quantiles(counts, n=4) if len(counts) > 1 else (counts[0],) * 3
    out: dict[str, Any] = {
        "evals_to_top5_median": statistics.median(counts),
        "evals_to_top5_iqr": [q1, q3],
        "missed": sum(h is None for h in hits),
    }
    for n in CHECKPOINTS:
        values = [t[min(n, len(t)) - 1] for t in traces if t]
        out[f"best_at_{n}"] = round(float(statistics.median(values)), 4) if values else None
    return out


def efficiency(space: Space, table: dict[str, float | None], kinds: Sequence[str], seeds: int,
               max_evals: int | None = None) -> dict[str, dict[str, Any]]:
    scored = sorted(((f, k) for k, f in table.items() if f is not None), reverse=True)
    top5 = {k for _, k in scored[:5]}
    limit = max_evals or len(table)
    report = {}
    for kind in kinds:
        began = time.perf_counter()
        runs = [one_run(kind, space, table, top5, seed, limit) for seed in range(seeds)]
        report[kind] = summarize([h for h, _ in runs], [t for _, t in runs], limit)
        print(f"{kind}: {json.dumps(report[kind])} ({time.perf_counter() - began:.0f} s)", file=sys.stderr, flush=True)
    if "random" in report:  # the targets are fractions of random search's count
        for row in report.values():
            row["vs_random"] = round(row["evals_to_top5_median"] / report["random"]["evals_to_top5_median"], 3)
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--table", type=Path, default=Path(__file__).parent / "data" / "mnist1d_one_unit.json.gz")
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--controllers", default=",".join(sorted(CONTROLLERS)))
    args = parser.parse_args()

    space, table = load(args.table)
    kinds = args.controllers.split(",")
    report = efficiency(space, table, kinds, args.seeds)
    for kind, row in report.items():
        ratio = f", {row['vs_random']:.2f} of random's" if "vs_random" in row else ""
        print(f"{kind:<12} top-5 after {row['evals_to_top5_median']:>7} evaluations (IQR {row['evals_to_top5_iqr']}{ratio})")
    print(json.dumps(report))


if __name__ == "__main__":
    main()
