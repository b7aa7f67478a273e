"""``actsearch evaluate EXPR --task NAME``: train one candidate locally and print its fitness.

Seeds ``0 … N-1`` train as one population (K = N members, one batched network), which is how
the service evaluates a candidate too, so the numbers match. With ``--baseline`` the baselines
train in the same population with the same seeds, and the report says how the expression
compares with each ("+0.012 ± 0.004 over ReLU"). torch is imported only when the
command runs: ``actsearch --help`` stays fast.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from typing import IO, Any

from cli._client import relative_part
from cli._errors import CliError
from worker.spec import DEFAULT_BASELINES, MAX_BASELINES, MAX_SEEDS, MAX_STEPS, PRECISIONS


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("evaluate", help="train child networks with an expression locally and print its fitness")
    p.add_argument("expression", help="e.g. 'x * sigmoid(x)'")
    p.add_argument("--task", required=True, help="a task name, e.g. mnist1d-mlp")
    p.add_argument("--seeds", type=int, default=1, help="train seeds 0..N-1 as one population (default 1)")
    p.add_argument("--steps", type=int, default=None, help="training steps (default: the task's budget)")
    p.add_argument("--option", action="append", default=[], metavar="KEY=VALUE", dest="options",
                   help="a task option, repeatable (the JobSpec's task.options), e.g. --option path=data.npz "
                        "--option model=cnn; a value that parses as JSON is JSON, else text (a path may be any "
                        "file you can read: only the service limits them to ACTSEARCH_DATA_DIRS)")
    p.add_argument("--device", default="cpu", help="torch device, e.g. cpu, cuda, cuda:1 (default cpu)")
    p.add_argument("--precision", choices=PRECISIONS, default="fp32",
                   help="bf16: bfloat16 autocast, as a job's task.precision (for GPUs; default fp32)")
    p.add_argument("--baseline", action="append", default=[], metavar="EXPR", dest="baselines",
                   help="also train EXPR with the same seeds, in the same population, and compare; repeatable; "
                        "'default' is ReLU and SiLU (a job's default baselines)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(handler=cmd_evaluate)


class ProgressBar:
    """A text bar on stderr. Redrawn in place on a terminal (at most 10 times a second);
    elsewhere (logs, pipes) only the final line is written, so logs stay readable."""

    def __init__(self, total: int, stream: IO[str], label: str) -> None:
        self.total, self.stream, self.label = total, stream, label
        self.tty = stream.isatty()
        self.began = self.drawn = time.perf_counter()
        self.first: tuple[int, float] | None = None  # the rate counts from the first step, not the set-up

    def update(self, done: int, total: int) -> None:
        now = time.perf_counter()
        self.first = self.first or (done, now)
        if self.tty and (now - self.drawn >= 0.1 or done == total):
            self.drawn = now
            self._draw(done, total, end="\r")

    def close(self, done: int) -> None:
        self._draw(done, self.total, end="\n")

    def abandon(self) -> None:
        """Ends a bar drawn in place, so the error that follows starts on its own line."""
        if self.tty:
            self.stream.write("\n")

    def _draw(self, done: int, total: int, end: str) -> None:
        width = 30
        filled = width * done // max(1, total)
        now = time.perf_counter()
        elapsed = now - self.began
        rate = (done - self.first[0]) / (now - self.first[1]) if self.first and now > self.first[1] else 0.0
        self.stream.write(f"{self.label} [{'#' * filled}{'.' * (width - filled)}] {done}/{total} steps "
                          f"{elapsed:.1f} s {rate:.0f} steps/s{end}")
        self.stream.flush()


def cmd_evaluate(args: argparse.Namespace) -> None:
    report = evaluate(args.expression, task_name=args.task, options=parse_options(args.options),
                      seeds=args.seeds, steps=args.steps, device=args.device, precision=args.precision,
                      progress=sys.stderr, baselines=args.baselines)
    if args.json:
        print(json.dumps(report, sort_keys=True))
    else:
        _print_report(report)


def parse_options(pairs: list[str]) -> dict[str, Any]:
    """``["path=data.npz", "width=64"]`` → ``{"path": "data.npz", "width": 64}``."""
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise CliError(f"--option must be KEY=VALUE, got {pair!r}")
        try:
            options[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            options[key.strip()] = value  # text: a path, a model name
    return options


def evaluate(text: str, *, task_name: str, options: dict[str, Any] | None = None, seeds: int,
             steps: int | None, device: str, progress: IO[str] | None, precision: str = "fp32",
             baselines: list[str] | None = None) -> dict[str, Any]:
    """Trains ``text`` (and ``baselines``, in the same population) on ``task_name`` with seeds
    ``0 … seeds-1``; a JSON-ready report."""
    import torch

    from evaluator import Fitness, Member, TaskError, get_task, train_population

    expr = _parse(text, "expression")
    texts = [b for given in baselines or [] for b in (DEFAULT_BASELINES if given == "default" else (given,))]
    if len(texts) > MAX_BASELINES:
        raise CliError(f"at most {MAX_BASELINES} baselines (a job's baselines), got {len(texts)}")
    references = [_parse(b, f"baseline {b!r}") for b in texts]
    try:
        task = get_task(task_name, **(options or {}))
    except TaskError as exc:
        raise CliError(str(exc)) from None
    # A job's limits: the seeds train as one population in memory, so 10**5 of them would
    # not fail with a message but run out of memory after minutes.
    if not 1 <= seeds <= MAX_SEEDS:
        raise CliError(f"--seeds must be from 1 to {MAX_SEEDS} (a job's task.seeds), got {seeds}")
    if steps is not None and not 1 <= steps <= MAX_STEPS:
        raise CliError(f"--steps must be from 1 to {MAX_STEPS:,} (a job's task.steps), got {steps}")
    try:
        dev = torch.device(device)
        torch.empty(1, device=dev)  # fail here, with a message, if the device is not usable
    except (RuntimeError, AssertionError) as exc:
        raise CliError(f"device {device!r} is not usable: {exc}") from None

    budget = task.budget if steps is None else task.budget.with_steps(steps)
    bar = ProgressBar(budget.steps, progress, f"{task.name} x{seeds}") if progress is not None else None
    ticks: dict[str, tuple[int, float]] = {}  # "first" and "last": (steps done, time)

    def on_step(done: int, total: int) -> None:
        ticks.setdefault("first", (done, time.perf_counter()))
        ticks["last"] = (done, time.perf_counter())
        if bar is not None:
            bar.update(done, total)

    members = [Member(e, seed) for e in (expr, *references) for seed in range(seeds)]
    began = time.perf_counter()
    try:
        run = train_population(task, members, budget=budget, device=dev, bf16=precision == "bf16", on_step=on_step)
    except TaskError as exc:  # the task's data: missing, unreadable, malformed
        if bar is not None:
            bar.abandon()
        raise CliError(str(exc)) from None
    wall = time.perf_counter() - began
    (first, t0), (done, t1) = ticks.get("first", (0, 0.0)), ticks.get("last", (0, 0.0))
    if bar is not None:
        bar.close(done)
    # the training loop's own rate, without loading data and building the network
    rate = (done - first) / (t1 - t0) if t1 > t0 else 0.0
    fitness = Fitness.of(run.results[:seeds])
    compared = [_compared(reference, Fitness.of(run.results[seeds * (i + 1): seeds * (i + 2)]), fitness)
                for i, reference in enumerate(references)]
    return {
        "expression": str(expr),
        "task": task.name,
        "objective": task.describe()["objective"],
        "device": str(dev),
        "precision": precision,
        "seeds": seeds,
        "steps": budget.steps,
        "fitness": fitness.to_json(),
        "runs": [r.to_json() for r in run.results[:seeds]],
        "baselines": compared,
        "steps_done": done,
        "wall_time": wall,  # the whole evaluation: data, network, training, validation
        "steps_per_second": rate,  # population steps: each one trains every seed
    }


def _parse(text: str, what: str) -> Any:
    from space import ExprError, ParseError, parse

    try:
        return parse(text)
    except ParseError as exc:
        raise CliError(f"cannot parse {what}: {exc}\n{exc.pointer()}") from None
    except ExprError as exc:
        raise CliError(f"bad {what}: {exc}") from None


def _compared(reference: Any, baseline: Any, fitness: Any) -> dict[str, Any]:
    """A baseline's fitness, and the expression's difference from it with the standard error
    of that difference over the seeds (None where either did not train)."""
    from space import identify_exact

    match = identify_exact(reference)
    delta = spread = None
    if fitness.mean is not None and baseline.mean is not None:
        n = max(1, len(baseline.per_seed))
        delta = fitness.mean - baseline.mean
        spread = math.sqrt(((fitness.std or 0.0) ** 2 + (baseline.std or 0.0) ** 2) / n)
    return {"name": match.name if match is not None else str(reference), "expression": str(reference),
            "fitness": baseline.to_json(), "difference": delta, "spread": spread}


def _relative(baselines: list[dict[str, Any]]) -> str:
    """"+0.0120 ± 0.0040 over ReLU, -0.0030 ± 0.0051 vs SiLU"."""
    parts = []
    for b in baselines:
        if b["difference"] is None:
            parts.append(f"{b['name']}: - (it did not train: {b['fitness']['reason'] or 'no fitness'})")
        else:
            parts.append(relative_part(b["name"], b["difference"], b["spread"]))
    return ", ".join(parts)


def _print_report(report: dict[str, Any]) -> None:
    fit = report["fitness"]
    if fit["mean"] is not None:
        value = f"{fit['mean']:.4f} ± {fit['std']:.4f}  ({report['objective']})"
    else:
        value = "-"
    per_seed = ", ".join("-" if v is None else f"{v:.4f}" for v in fit["per_seed"])
    rows = [
        ("expression", report["expression"]),
        ("task", f"{report['task']} on {report['device']}, {report['steps']} steps"),
        ("fitness", value),
        ("per seed", per_seed),
        ("status", fit["status"] + (f" ({fit['reason']})" if fit["reason"] else "")),
        ("wall time", f"{report['wall_time']:.2f} s, {report['steps_per_second']:.0f} steps/s "
                      f"({report['seeds']} seed{'s' if report['seeds'] > 1 else ''} per step)"),
    ]
    if report["baselines"]:
        rows.append(("vs baselines", _relative(report["baselines"]) if fit["mean"] is not None
                     else "- (the expression did not train)"))
        for b in report["baselines"]:
            mean = b["fitness"]["mean"]
            rows.append((f"  {b['name']}", "-" if mean is None else f"{mean:.4f} ± {b['fitness']['std']:.4f}"))
    for run in report["runs"]:
        if run["detail"]:
            rows.append((f"seed {run['seed']}", f"{run['status']}: {run['reason']}: {run['detail']}"))
    width = max(len(k) for k, _ in rows)
    for key, text in rows:
        print(f"{key:<{width}}  {text}")
