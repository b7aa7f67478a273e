"""Build a tabular benchmark: real fitness for every unique function of a space.

Trains every unique function (by fingerprint) of the one-unit space over the Swish paper's
operators (4,011 functions) with one seed, in populations of ``--k``, and writes
``bench/data/<name>.json.gz``: the fitness, budgets, seeds and policy used, and one row per
function (candidate genome, expression, fingerprint, fitness or null, status, reason).
Controllers are then compared by lookup (``bench/controller_efficiency.py``), without training.

Two fitnesses (``--fitness``):

- ``shallow`` (table ``mnist1d_one_unit``): accuracy on ``mnist1d-mlp``, the product's fitness
  before the depth-aware default.
- ``default`` (table ``default_one_unit``): the JobSpec's default fitness, scored as the runner
  scores it (``worker.spec.DEFAULT_TASKS``, ``DEFAULT_AGGREGATE``, ``DEFAULT_BASELINES``): each
  task's accuracy normalised against the baselines' mean there (trained once per task, same seed
  and steps), a function that misses a task's hurdle rejected there (reason ``hurdle: …``, the
  later tasks not trained), the rest aggregated. Each row also keeps its per-task results.

Every task trains a third of its default budget (``--fraction``; 1,000 of ``mnist1d-mlp``'s
3,000 steps, 333 of the deep tasks' 1,000) so that a table costs about an hour on 2 CPU cores;
the steps are recorded in the file. The build is resumable: rows are appended to
``<name>.partial.json.gz`` after every population, and a rerun skips the fingerprints there;
``built_on`` names the CPU and kernel ISA of every machine that added rows.

    python bench/build_table.py [--fitness shallow|default] [--fraction 0.333] [--k 64] [--limit N]
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from evaluator import Member, RejectionPolicy, get_task, train_population  # noqa: E402
from evaluator._c_target import describe_cpu  # noqa: E402
from space import Expr, Space, fingerprint, parse  # noqa: E402
from worker._scoring import aggregate, normalised, reference  # noqa: E402
from worker.spec import DEFAULT_AGGREGATE, DEFAULT_BASELINES, DEFAULT_TASKS  # noqa: E402

DATA = Path(__file__).parent / "data"
TABLES = {"shallow": "mnist1d_one_unit", "default": "default_one_unit"}


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


def fitness_tasks(fitness: str) -> list[dict[str, Any]]:
    """The tasks of ``fitness`` as ``{"name", "hurdle"}`` dicts, cheap (hurdle) first."""
    if fitness == "shallow":
        return [{"name": "mnist1d-mlp", "hurdle": None}]
    return [{"name": t["name"], "hurdle": t.get("hurdle")} for t in DEFAULT_TASKS]


def new_table(fitness: str, fraction: float, seed: int, space: Space) -> dict[str, Any]:
    tasks = []
    for spec in fitness_tasks(fitness):
        task = get_task(spec["name"])
        steps = max(1, round(task.budget.steps * fraction))
        tasks.append({**spec, "steps": steps, "budget": task.budget.with_steps(steps).to_json()})
    table: dict[str, Any] = {"fitness": fitness, "tasks": tasks, "seeds": [seed], "space": space.to_json(),
                             "policy": "default rejection policy", "rows": []}
    if fitness == "shallow":  # the first table's header, kept for its readers
        table.update(task=tasks[0]["name"], steps=tasks[0]["steps"], budget=tasks[0]["budget"])
    else:
        table.update(aggregate=DEFAULT_AGGREGATE, baselines=list(DEFAULT_BASELINES), references={})
    return table


def train(task_spec: dict[str, Any], exprs: Sequence[Expr], seed: int) -> list[dict[str, Any]]:
    """One population of ``exprs`` on a task: per function its fitness, status, reason, steps."""
    run = train_population(get_task(task_spec["name"]), [Member(e, seed) for e in exprs],
                           steps=task_spec["steps"], policy=RejectionPolicy())
    return [{"fitness": r.fitness, "status": r.status, "reason": r.reason, "steps": r.steps} for r in run.results]


def reference_of(table: dict[str, Any], task_spec: dict[str, Any], seed: int) -> float | None:
    """The baselines' mean fitness on a task, trained once and kept in the table."""
    name = task_spec["name"]
    if name not in table["references"]:
        results = train(task_spec, [parse(b) for b in table["baselines"]], seed)
        table["references"][name] = {"baselines": dict(zip(table["baselines"], results, strict=True)),
                                     "mean": reference([r["fitness"] for r in results])}
    mean: float | None = table["references"][name]["mean"]
    return mean


def score(table: dict[str, Any], exprs: Sequence[Expr], seed: int) -> list[dict[str, Any]]:
    """Rows' results under the table's fitness: one task's result as it is; several tasks scored
    as the runner does (normalised, hurdles, aggregate), the per-task results under ``tasks``."""
    if table["fitness"] == "shallow":
        return train(table["tasks"][0], exprs, seed)
    rows: list[dict[str, Any]] = [{"tasks": {}, "scores": []} for _ in exprs]
    alive = list(range(len(exprs)))
    for spec in table["tasks"]:
        if not alive:
            break
        ref = reference_of(table, spec, seed)
        for i, result in zip(alive, train(spec, [exprs[i] for i in alive], seed), strict=True):
            row = rows[i]
            row["tasks"][spec["name"]] = result
            if result["fitness"] is None:
                row.update(status=result["status"], reason=f"{spec['name']}: {result['reason']}")
                continue
            value = normalised(result["fitness"], ref)
            row["scores"].append((value, 1.0))
            if spec["hurdle"] is not None and value < spec["hurdle"]:
                row.update(status="rejected", reason=f"hurdle: {spec['name']} scored {value:+.4f}, "
                                                       f"below {spec['hurdle']:+.4f}")
        alive = [i for i in alive if "status" not in rows[i]]
    for i in alive:
        rows[i].update(status="ok", reason=None, fitness=aggregate(rows[i]["scores"], table["aggregate"]))
    for row in rows:
        row.setdefault("fitness", None)
        row["steps"] = sum(r["steps"] for r in row["tasks"].values())
        del row["scores"]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fitness", choices=sorted(TABLES), default="shallow")
    parser.add_argument("--fraction", type=float, default=1 / 3, help="of each task's default steps")
    parser.add_argument("--k", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=int, default=None, help="stop after this many functions")
    parser.add_argument("--name", default=None, help="table name (default: by fitness)")
    args = parser.parse_args()

    space = Space()
    name = args.name or TABLES[args.fitness]
    final, partial = DATA / f"{name}.json.gz", DATA / f"{name}.partial.json.gz"
    fresh = new_table(args.fitness, args.fraction, args.seed, space)
    table = read(partial) or fresh
    if [t["steps"] for t in table["tasks"]] != [t["steps"] for t in fresh["tasks"]] or table["seeds"] != [args.seed]:
        raise SystemExit(f"{partial} was built with other steps or seeds: {table['tasks']}, {table['seeds']}")
    machine = describe_cpu()  # every machine that built rows: fitness may differ in the last digits by CPU
    if machine not in table.setdefault("built_on", []):
        table["built_on"].append(machine)
    done = {row["fingerprint"] for row in table["rows"]}
    todo = [(c, e) for c, e in space.unique() if fingerprint(e) not in done]
    if args.limit is not None:
        todo = todo[: max(0, args.limit - len(done))]
    began = time.perf_counter()
    for lo in range(0, len(todo), args.k):
        chunk = todo[lo : lo + args.k]
        for (candidate, expr), result in zip(chunk, score(table, [e for _, e in chunk], args.seed), strict=True):
            table["rows"].append({"candidate": space.candidate_to_json(candidate), "expression": str(expr),
                                  "fingerprint": fingerprint(expr), **result})
        write(partial, table)
        print(f"{len(table['rows'])} functions, {time.perf_counter() - began:.0f} s", flush=True)
    total = sum(1 for _ in space.unique())
    if len(table["rows"]) >= total:
        write(final, table)
        partial.unlink()
    print(json.dumps({"table": name, "rows": len(table["rows"]), "unique_functions": total,
                      "complete": len(table["rows"]) >= total, "steps": [t["steps"] for t in table["tasks"]],
                      "seconds": round(time.perf_counter() - began, 1)}))


if __name__ == "__main__":
    main()
