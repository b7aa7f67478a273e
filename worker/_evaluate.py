"""The real evaluation: requests → population runs on this process's device → outcomes.

Runs where the executor put it (a thread of this process, or a Ray worker). Compatible requests
(same task, options, steps, device, schedule, precision) become the members of one ``train_population``
call, so K candidates × S seeds train as one batched network; a promotion's members that find
their checkpoint (``worker._checkpoints``) continue from it as a population of their own. Loaded tasks are cached per process, so a
long-lived worker builds each task (and, through the evaluator, loads its data) once.

Every problem of one request or one group is an outcome, never an exception: an unknown task
(reason "unknown_task"), a task that cannot load ("task_error"), text that does not parse
("bad_expression"), a crash of the training run ("error").
"""

from __future__ import annotations

import json
import logging
import math
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from evaluator import OK
from space import load_plugins
from worker import _checkpoints as checkpoints
from worker._executor import describe_exception, worker_id
from worker._request import EvalRequest
from worker._result import EvalOutcome

if TYPE_CHECKING:
    from evaluator import Checkpoint, RunResult, Task

log = logging.getLogger(__name__)

THREADS_ENV = "ACTSEARCH_TORCH_THREADS"
_TASKS: dict[tuple[str, str], Task] = {}


def evaluate_batch(requests: Sequence[EvalRequest]) -> list[EvalOutcome]:
    """One outcome per request, in order; one ``train_population`` call per compatible group."""
    load_plugins()  # a Ray worker process imports only what unpickling this call needed
    _configure_threads()
    if any(r.device.startswith("cuda") for r in requests):
        _limit_gpu_memory()
    groups: dict[tuple[Any, ...], list[int]] = {}
    for i, request in enumerate(requests):
        groups.setdefault(request.batch_key, []).append(i)
    outcomes: list[EvalOutcome | None] = [None] * len(requests)
    for indices in groups.values():
        group = [requests[i] for i in indices]
        for i, outcome in zip(indices, _evaluate_group(group), strict=True):
            outcomes[i] = outcome
    return [o for o in outcomes if o is not None]


def _evaluate_group(requests: list[EvalRequest]) -> list[EvalOutcome]:
    from evaluator import Member, RejectionPolicy, TaskError, train_population
    from space import ExprError, ParseError, parse

    first, where = requests[0], worker_id()
    try:
        task = _task(first.task, first.task_options)
    except TaskError as exc:
        return [EvalOutcome.failed(r, _task_reason(first.task), str(exc), worker=where) for r in requests]

    results: dict[int, EvalOutcome] = {}
    members, slots = [], []
    for i, request in enumerate(requests):
        try:
            members.append(Member(parse(request.expression), request.seed))
            slots.append(i)
        except (ParseError, ExprError) as exc:
            results[i] = EvalOutcome.failed(request, "bad_expression", f"{request.expression!r}: {exc}",
                                            worker=where)
    steps = first.steps if first.steps is not None else task.budget.steps
    keep = first.horizon is not None and steps < first.horizon  # a rung below the last one

    policy = RejectionPolicy() if first.rejection is None else RejectionPolicy(**first.rejection)

    def train(part: list[int], population: list[Member], resume: list[Checkpoint] | None = None) -> None:
        try:
            run = train_population(task, population, resume=resume, steps=steps, horizon=first.horizon,
                                   policy=policy, device=first.device, bf16=first.precision == "bf16",
                                   keep_checkpoints=keep)
        except Exception as exc:
            # a broken device, out of memory, a compile error: the whole population is lost
            detail = describe_exception(exc)
            log.warning("population of %d on %s failed: %s", len(part), task.name, detail)
            for i in part:
                results[i] = EvalOutcome.failed(requests[i], "error", detail, worker=where)
            return
        for i, result, checkpoint in zip(part, run.results, run.checkpoints, strict=True):
            results[i] = _outcome(requests[i], result, where, steps)
            if checkpoint is not None:
                checkpoints.save(requests[i], checkpoint)

    resumed: dict[int, Checkpoint] = {}
    if first.resume_from is not None:  # a promotion: continue where the rung below stopped
        for i, member in zip(slots, members, strict=True):
            checkpoint = checkpoints.take(requests[i], first.resume_from, member)
            if checkpoint is not None:
                resumed[i] = checkpoint
    if resumed:
        train(list(resumed), [], list(resumed.values()))
    fresh = [(i, m) for i, m in zip(slots, members, strict=True) if i not in resumed]
    if fresh:
        train([i for i, _ in fresh], [m for _, m in fresh])
    return [results[i] for i in range(len(requests))]


def _outcome(request: EvalRequest, result: RunResult, where: str, steps: int) -> EvalOutcome:
    fitness = result.fitness
    if result.status != OK or fitness is None or not math.isfinite(fitness):
        fitness = None
    # steps_trained: fewer than steps where a promotion continued from a checkpoint (or a
    # member was rejected early)
    metrics = {**result.metrics, "steps_per_second": result.steps_per_second, "steps_trained": float(result.steps)}
    return EvalOutcome(request.key, result.status, fitness, metrics, result.reason, result.detail,
                       result.wall_time, where, steps, result.steps)


def _task(name: str, options: dict[str, Any] | Any) -> Task:
    """``get_task(name, **options)``, once per process: the evaluator caches data per task."""
    from evaluator import get_task

    key = (name, json.dumps(options, sort_keys=True))
    if key not in _TASKS:
        _TASKS[key] = get_task(name, **options)
    return _TASKS[key]


def _task_reason(name: str) -> str:
    from evaluator import task_names

    return "task_error" if name in task_names() else "unknown_task"


def _configure_threads() -> None:
    """Sets torch's intra-op threads to ``$ACTSEARCH_TORCH_THREADS`` or the CPUs Ray assigned.

    Measured on a loaded 2-core machine: more intra-op threads than assigned CPUs made small
    networks 10–70× slower (every worker process spins up one thread per core). Outside Ray and
    without the variable, torch's default stays. Checked on every batch, because Ray may reuse a
    process for tasks with another CPU count; setting it only when it changes costs nothing.
    """
    import torch

    cpus = _ray_assigned("CPU")
    wanted = _env_threads() or (max(1, int(cpus)) if cpus else None)
    if wanted is not None and torch.get_num_threads() != wanted:
        torch.set_num_threads(wanted)


def _env_threads() -> int | None:
    value = os.environ.get(THREADS_ENV, "").strip()
    if not value:
        return None
    try:
        return max(1, int(value))
    except ValueError:
        log.warning("ignoring %s=%r: not an integer", THREADS_ENV, value)
        return None


def _limit_gpu_memory() -> None:
    """Caps this process's CUDA memory at its Ray share of the GPU (``num_gpus=0.25``: a
    quarter), so one population cannot take the memory of the others packed onto that GPU."""
    import torch

    share = _ray_assigned("GPU")
    if share is not None and share < 1 and torch.cuda.is_available():
        torch.cuda.set_per_process_memory_fraction(share)  # Ray made the assigned GPU device 0


def _ray_assigned(resource: str) -> float | None:
    """How much of ``resource`` Ray assigned to this worker; None outside a Ray worker."""
    ray = sys.modules.get("ray")  # a Ray worker has it imported; never import it here
    if ray is None or not ray.is_initialized():
        return None
    try:
        context = ray.get_runtime_context()
        if context.worker.mode != ray.WORKER_MODE:  # a driver has no assigned resources
            return None
        amount = context.get_assigned_resources().get(resource)
    except Exception:  # noqa: BLE001  (an unexpected Ray version: keep the defaults)
        return None
    return float(amount) if amount else None
