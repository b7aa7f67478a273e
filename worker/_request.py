"""The worker's one request type: one candidate × one seed at one fidelity.

A job's runner builds it from an evaluation row (``worker._job``), an executor carries it (to
a thread, or pickled to a Ray worker), and ``worker._evaluate`` turns a group of compatible
requests into the evaluator's ``Member``s and ``train_population`` arguments: the one
conversion at the evaluator's boundary.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from worker.spec import PRECISIONS


@dataclass(frozen=True)
class EvalRequest:
    """One candidate × one seed at one fidelity: a row of the store's ``evaluations``, whose id
    (as text) is the ``key`` a job's runner gives it.

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
