"""Build the tabular benchmark: real fitness for every unique function of a space.

Trains every unique function (by fingerprint) of the one-unit space over the Swish paper's
operators (4,011 functions) on ``mnist1d-mlp`` with one seed, in populations of ``--k``, and
writes ``bench/data/<name>.json.gz``: the budget, seeds and policy used, and one row per
function (candidate genome, expression, fingerprint, fitness or null, status, reason).
Controllers are then compared by lookup (``bench/controller_efficiency.py``), without training.

The build is resumable: rows are appended to ``<name>.partial.json.gz`` after every
population, and a rerun skips the fingerprints already there. The default budget is 1,000
steps (a third of the task's default) so that the whole table costs about an hour on 2 CPU
cores; it is recorded in the file.

    python bench/build_table.py [--steps 1000] [--k 64] [--limit N] [--name mnist1d_one_unit]
"""

from __future__ import annotations

import argparse
import gzip
import json
import time
from pathlib import Path
from typing import Any

from evaluator import Member, RejectionPolicy, get_task, train_population
from space import Space, fingerprint

DATA = Path(__file__).parent / "data"


def read(path: Path) -> dict[str, Any] | None:
    if not path.exists():
        return None
    with gzip.open(path, "rt") as f:
        data: dict[str, Any] = json.load(f)
        return data


def write(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    with gzip.open(tmp, "wt") as f:
        json.dump(data, f, sort_keys=True)
    tmp.replace(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--k", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=int, default=None, help="stop after this many functions")
    parser.add_argument("--name", default="mnist1d_one_unit")
    args = parser.parse_args()

    space = Space()
    task = get_task("mnist1d-mlp")
    final, partial = DATA / f"{args.name}.json.gz", DATA / f"{args.name}.partial.json.gz"
    table = read(partial) or {
        "task": task.name, "space": space.to_json(), "steps": args.steps, "seeds": [args.seed],
        "budget": task.budget.with_steps(args.steps).to_json(), "policy": "default rejection policy",
        "rows": [],
    }
    if table["steps"] != args.steps or table["seeds"] != [args.seed]:
        raise SystemExit(f"{partial} was built with steps={table['steps']} seeds={table['seeds']}")
    done = {row["fingerprint"] for row in table["rows"]}
    todo = [(c, e) for c, e in space.unique() if fingerprint(e) not in done]
    if args.limit is not None:
        todo = todo[: max(0, args.limit - len(done))]
    began = time.perf_counter()
    for lo in range(0, len(todo), args.k):
        chunk = todo[lo : lo + args.k]
        run = train_population(task, [Member(e, args.seed) for _, e in chunk], steps=args.steps,
                               policy=RejectionPolicy())
        for (candidate, expr), result in zip(chunk, run.results, strict=True):
            table["rows"].append({
                "candidate": space.candidate_to_json(candidate), "expression": str(expr),
                "fingerprint": fingerprint(expr), "fitness": result.fitness,
                "status": result.status, "reason": result.reason, "steps": result.steps,
            })
        write(partial, table)
        print(f"{len(table['rows'])} functions, {time.perf_counter() - began:.0f} s", flush=True)
    total = sum(1 for _ in space.unique())
    if len(table["rows"]) >= total:
        write(final, table)
        partial.unlink()
    print(json.dumps({"rows": len(table["rows"]), "unique_functions": total, "complete": len(table["rows"]) >= total,
                      "steps": args.steps, "seconds": round(time.perf_counter() - began, 1)}))


if __name__ == "__main__":
    main()
