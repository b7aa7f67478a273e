"""Evaluation requests and outcomes and the executor protocol (the executors: worker/_in_process.py,
worker/_ray.py; their shared batching: worker/_batching.py).

An executor turns :class:`EvalRequest`s (one candidate × one seed at one fidelity) into
``concurrent.futures.Future[EvalOutcome]``. Requests wait in a :class:`BatchQueue` and leave as
one batch — one ``evaluate_batch`` call, so one population run — once ``batch_size`` compatible
requests (same task, options, steps and device) wait, or ``linger`` seconds after the first one.
A batch leaves only when one of the executor's slots is free: requests keep joining it while
the workers are busy, and its time limit counts from when it starts, not from when it queued.

Whatever happens — an exception in ``evaluate_batch``, a time limit, a dead worker — a future
resolves to an outcome (``status="failed"`` with a ``reason``); ``future.result()`` never raises.
Only ``shutdown()`` *cancels* outstanding futures, so ``future.cancelled()`` tells a request that
was never evaluated (run it again later) from one that failed (store it).
"""

from __future__ import annotations

import json
import logging
import math
import os
import socket
import sys
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Protocol

from worker.spec import PRECISIONS

log = logging.getLogger(__name__)

# the evaluator's status names, repeated so that this module never imports torch
OK, REJECTED, FAILED = "ok", "rejected", "failed"
_NONFINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


@dataclass(frozen=True)
class EvalRequest:
    """One candidate × one seed at one fidelity: a row of the store's ``evaluations``.

    ``expression`` is text (parsed by ``space.parse`` on the worker, never evaluated);
    ``task_options`` go to ``get_task(task, **task_options)`` and must be JSON-able;
    ``steps`` None means the task's default budget.

    Multi-fidelity: ``horizon`` is the length of the learning-rate schedule (None: ``steps``),
    so a short rung trains the first ``steps`` of the schedule of the last rung; a worker keeps
    the checkpoint of a run that stops before its horizon. ``resume_from`` names the rung below
    (its steps): the worker continues from that checkpoint when it has it, else trains from
    scratch; both end the same (resuming equals training straight through).

    ``precision`` "bf16" trains under bfloat16 autocast (a job's ``task.precision``).
    ``rejection``: the job's early-rejection policy (the fields of ``evaluator.RejectionPolicy``,
    a JobSpec's ``rejection`` section); None: the evaluator's default.

    >>> EvalRequest("e1", "x*sigmoid(x)", "mnist1d-mlp", {}, seed=0, steps=300).batch_key
    ('mnist1d-mlp', '{}', 300, 'cpu', None, None, 'fp32', 'null')
    """

    key: str
    expression: str
    task: str
    # a plain dict, copied on construction; left out of the hash so the request stays hashable
    task_options: dict[str, Any] = field(hash=False)
    seed: int
    steps: int | None
    device: str = "cpu"
    horizon: int | None = None
    resume_from: int | None = None
    precision: str = "fp32"
    rejection: dict[str, Any] | None = field(default=None, hash=False)

    def __post_init__(self) -> None:
        options = dict(self.task_options)
        json.dumps(options)  # TypeError here, at submission, rather than on a worker
        object.__setattr__(self, "task_options", options)
        if self.rejection is not None:
            object.__setattr__(self, "rejection", dict(self.rejection))
            json.dumps(self.rejection)
        if self.horizon is not None and (self.steps is None or not 0 < self.steps <= self.horizon):
            raise ValueError(f"need 0 < steps <= horizon, got steps={self.steps}, horizon={self.horizon}")
        if self.resume_from is not None and (self.horizon is None or self.steps is None
                                             or not 0 < self.resume_from < self.steps):
            raise ValueError(f"resume_from needs a horizon and 0 < resume_from < steps, got "
                             f"resume_from={self.resume_from}, steps={self.steps}, horizon={self.horizon}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")

    @property
    def batch_key(self) -> tuple[str, str, int | None, str, int | None, int | None, str, str]:
        """Requests with equal keys can share one population run."""
        return (self.task, json.dumps(self.task_options, sort_keys=True), self.steps, self.device, self.horizon,
                self.resume_from, self.precision, json.dumps(self.rejection, sort_keys=True))

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "task_options": dict(self.task_options),
                "rejection": None if self.rejection is None else dict(self.rejection)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> EvalRequest:
        return cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data})


@dataclass(frozen=True)
class EvalOutcome:
    """What became of one request. ``fitness`` is None unless ``status`` is ok and it is finite;
    ``metrics`` may hold non-finite values; ``steps`` is the fidelity (the planned steps, the
    task's default budget resolved) and ``steps_done`` the steps actually trained (fewer for an
    early rejection). ``worker`` is ``host:pid`` (``host:pid:node_id`` on Ray), "" if unknown."""

    key: str
    status: str
    fitness: float | None
    metrics: dict[str, float] = field(default_factory=dict, hash=False)
    reason: str | None = None
    detail: str | None = None
    wall_time: float = 0.0
    worker: str = ""
    steps: int = 0
    steps_done: int = 0

    @classmethod
    def failed(cls, request: EvalRequest, reason: str, detail: str | None, *,
               wall_time: float = 0.0, worker: str = "") -> EvalOutcome:
        return cls(request.key, FAILED, None, {}, reason, detail, wall_time, worker, request.steps or 0)

    def to_json(self) -> dict[str, Any]:
        """A dict that strict JSON accepts: non-finite floats become "NaN", "Infinity", "-Infinity"."""
        return {**asdict(self), "fitness": _encode(self.fitness),
                "metrics": {k: _encode(v) for k, v in self.metrics.items()}}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> EvalOutcome:
        values = {f.name: data[f.name] for f in fields(cls) if f.name in data}
        values["fitness"] = _decode(values.get("fitness"))
        values["metrics"] = {k: _decode(v) for k, v in values.get("metrics", {}).items()}
        return cls(**values)


def _encode(value: float | None) -> float | str | None:
    if value is None or math.isfinite(value):
        return value
    return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")


def _decode(value: Any) -> Any:
    return _NONFINITE[value] if isinstance(value, str) and value in _NONFINITE else value


EvaluateBatch = Callable[[Sequence[EvalRequest]], list[EvalOutcome]]


class Executor(Protocol):
    """Runs evaluations. ``capacity``: how many requests it can usefully hold in flight."""

    @property
    def capacity(self) -> int: ...

    def submit(self, request: EvalRequest) -> Future[EvalOutcome]: ...

    def shutdown(self) -> None: ...


def worker_id() -> str:
    """``host:pid``, plus ``:node_id`` inside a Ray process (ray is never imported here)."""
    ident = f"{socket.gethostname()}:{os.getpid()}"
    ray = sys.modules.get("ray")
    if ray is not None and ray.is_initialized():
        try:
            ident += f":{ray.get_runtime_context().get_node_id()}"
        except Exception:  # noqa: BLE001  (a driver mid-shutdown: the host and pid still say enough)
            pass
    return ident


def describe_exception(exc: BaseException) -> str:
    """``Type: message (at file:line in function)`` — the innermost frame is where it broke."""
    text = f"{type(exc).__name__}: {exc}"
    frames = traceback.extract_tb(exc.__traceback__)
    if frames:
        last = frames[-1]
        text += f" (at {Path(last.filename).name}:{last.lineno} in {last.name})"
    return text


def run_batch(evaluate_batch: EvaluateBatch, requests: Sequence[EvalRequest]) -> list[EvalOutcome]:
    """``evaluate_batch(requests)``, with an exception turned into failed outcomes (reason "error")."""
    began = time.perf_counter()
    try:
        return list(evaluate_batch(requests))
    except Exception as exc:
        detail = describe_exception(exc)
        log.warning("evaluate_batch failed on %d requests: %s", len(requests), detail)
        wall, where = time.perf_counter() - began, worker_id()
        return [EvalOutcome.failed(r, "error", detail, wall_time=wall, worker=where) for r in requests]
