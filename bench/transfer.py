"""Will the winner transfer? Two searches, one shallow fitness and one depth-aware, then each
search's top 3 trained on tasks neither search used.

Both searches use the same controller, space, budget and seed, run by the real runner (an
in-process executor on a throwaway SQLite store): the *old* one scores candidates on one
shallow task (``--old-task``, the product's fitness before depth-aware tasks), the *new* one on
the JobSpec's default fitness (its ``tasks``/``task`` and ``baselines``, read from
``worker.spec`` — so this measures whatever the defaults are). Then each search's top 3 by
confirmed score, with ReLU, SiLU and GELU, train on every ``--held-out`` task (``name`` or
``name:key=value,key=value`` for options) with ``--seeds`` seeds in one population per task.

    python bench/transfer.py [--candidates 24] [--controller evolution] [--seeds 2]
        [--held-out mnist1d-deep-mlp:depth=24 --held-out periodic-extrapolation ...]

Default held-out tasks: a plain MLP twice as deep as the default fitness's (24 layers), the
periodic regression, the character-level transformer, and a ResNet on the digits (4 blocks per
stage).

Prints a table per held-out task and, last, one JSON line: per search its top 3, how many of
them train finitely on every held-out task, and on how many tasks each beats ReLU; ``target``
says whether the new fitness's top 1 trains finitely everywhere and beats ReLU on at least
``len(held_out) - 1`` tasks.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import store  # noqa: E402
from evaluator import Member, get_task, train_population  # noqa: E402
from evaluator._c_target import describe_cpu  # noqa: E402
from space import parse  # noqa: E402
from worker import InProcessExecutor, Runner  # noqa: E402
from worker.spec import JobSpec  # noqa: E402

SPACE = {"unary": ["x", "neg", "abs", "square", "sigmoid", "tanh", "sin", "exp", "relu", "asinh", "softplus"],
         "binary": ["add", "mul", "sub", "max", "min"], "units": 1}
REFERENCES = {"ReLU": "relu(x)", "SiLU": "x*sigmoid(x)", "GELU": "gelu(x)"}
HELD_OUT = ("mnist1d-deep-mlp:depth=24", "periodic-extrapolation", "charlm-transformer", "digits-resnet:blocks=4")


def task_of(text: str) -> tuple[str, dict[str, Any]]:
    """``"name:depth=24,width=64"`` -> ``("name", {"depth": 24, "width": 64})``."""
    name, _, rest = text.partition(":")
    options: dict[str, Any] = {}
    for pair in filter(None, rest.split(",")):
        key, _, value = pair.partition("=")
        try:
            options[key] = json.loads(value)
        except json.JSONDecodeError:
            options[key] = value
    return name, options


def search(spec: dict[str, Any], workdir: Path, label: str) -> tuple[list[str], float]:
    """Runs ``spec`` to completion; its top 3 expressions (baselines aside) and the wall time."""
    database = store.connect(f"sqlite:///{workdir / f'{label}.db'}")
    normalized = JobSpec.from_json(spec).to_json()
    with database.session() as session:
        job_id = store.create_job(session=session, name=label, owner="bench", spec=normalized).id
    executor = InProcessExecutor(workers=1, batch_size=32)
    began = time.perf_counter()
    try:
        Runner(database=database, executor=executor, lease_seconds=600.0, heartbeat_seconds=5.0).run_one()
    finally:
        executor.shutdown()
    wall = time.perf_counter() - began
    with database.session() as session:
        job = store.get_job(session=session, job_id=job_id)
        assert job is not None and job.status == store.JOB_COMPLETED, job and job.error
        baselines = {b["candidate_id"] for b in (job.summary or {}).get("baselines", [])}
        rows, _ = store.leaderboard(session=session, job_id=job_id, limit=3 + len(baselines))
        top = [row.expression for row in rows if row.id not in baselines][:3]
    database.dispose()
    return top, wall


def held_out(functions: dict[str, str], task_text: str, seeds: int) -> dict[str, list[float | None]]:
    """Fitness per seed of every function on one held-out task (one population)."""
    name, options = task_of(task_text)
    task = get_task(name, **options)
    labels = list(functions)
    members = [Member(parse(functions[label]), seed) for label in labels for seed in range(seeds)]
    run = train_population(task, members)
    out: dict[str, list[float | None]] = {}
    for index, label in enumerate(labels):
        results = run.results[index * seeds:(index + 1) * seeds]
        out[label] = [r.fitness if r.status == "ok" and r.fitness is not None and math.isfinite(r.fitness) else None
                      for r in results]
    return out


def summary(values: list[float | None]) -> str:
    finite = [v for v in values if v is not None]
    if len(finite) < len(values):
        return "diverged" if not finite else f"{len(values) - len(finite)} seed(s) failed"
    return f"{statistics.fmean(finite):.4f} ± {statistics.stdev(finite) if len(finite) > 1 else 0.0:.4f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", type=int, default=24)
    parser.add_argument("--controller", default="evolution")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--seeds", type=int, default=2, help="seeds per function on each held-out task")
    parser.add_argument("--old-task", default="mnist1d-mlp", help="the shallow single-task fitness")
    parser.add_argument("--old-steps", type=int, default=600)
    parser.add_argument("--held-out", action="append", help=f"default: {', '.join(HELD_OUT)}")
    args = parser.parse_args()
    held = args.held_out or list(HELD_OUT)
    for text in held:  # a bad task or option fails now, not after the searches
        get_task(*task_of(text)[:1], **task_of(text)[1])
    common = {"space": SPACE, "controller": {"kind": args.controller}, "budget": {"candidates": args.candidates},
              "confirm": {"top_k": 3, "seeds": 2}, "seed": args.seed}
    specs = {"old": {**common, "name": "old", "task": {"name": args.old_task, "steps": args.old_steps},
                     "baselines": []},
             "new": {**common, "name": "new"}}  # the JobSpec's default fitness and baselines
    default = JobSpec.from_json(specs["new"])
    fitness_of = {"old": args.old_task, "new": ", ".join(t.name for t in default.scored_tasks)}
    print(f"new fitness: {fitness_of['new']} ({default.aggregate}); baselines {default.baselines}", flush=True)

    tops, walls = {}, {}
    with tempfile.TemporaryDirectory() as workdir:
        for label, spec in specs.items():
            tops[label], walls[label] = search(spec, Path(workdir), label)
            print(f"{label} search ({fitness_of[label]}): {walls[label]:.0f} s, top 3: {tops[label]}", flush=True)

    functions = dict(REFERENCES)
    for label in specs:
        for rank, expression in enumerate(tops[label], 1):
            functions[f"{label}#{rank}"] = expression
    results = {task: held_out(functions, task, args.seeds) for task in held}
    for task in held:
        print(f"\n{task}")
        for label, expression in functions.items():
            print(f"  {label:<8} {expression:<28} {summary(results[task][label])}")

    def beats_relu(label: str) -> list[str]:
        won = []
        for task in held:
            mine = [v for v in results[task][label] if v is not None]
            relu = [v for v in results[task]["ReLU"] if v is not None]
            if len(mine) == args.seeds and (len(relu) < args.seeds or statistics.fmean(mine) > statistics.fmean(relu)):
                won.append(task)
        return won

    report: dict[str, Any] = {**describe_cpu(), "candidates": args.candidates, "controller": args.controller,
                              "seed": args.seed, "seeds": args.seeds, "held_out": held, "searches": {}}
    for label in specs:
        rows: list[dict[str, Any]] = []
        for rank, expression in enumerate(tops[label], 1):
            key = f"{label}#{rank}"
            finite = all(all(v is not None for v in results[task][key]) for task in held)
            rows.append({"expression": expression, "finite_everywhere": finite, "beats_relu_on": beats_relu(key)})
        report["searches"][label] = {"fitness": fitness_of[label], "wall_seconds": round(walls[label], 1),
                                     "top3": rows, "finite_everywhere": sum(r["finite_everywhere"] for r in rows),
                                     "beats_relu": [len(r["beats_relu_on"]) for r in rows]}
    best = report["searches"]["new"]["top3"][0] if report["searches"]["new"]["top3"] else None
    report["target"] = bool(best and best["finite_everywhere"] and len(best["beats_relu_on"]) >= len(held) - 1)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
