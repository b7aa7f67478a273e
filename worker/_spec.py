"""The JobSpec: what a user asks the service to search, validated completely at submission.

Every operator, task, controller parameter, budget limit and expression is checked here, before
a job is accepted, so that a mistake is a clear message naming the field (``budget.candidates``,
``controller.params.population``) instead of a job that fails an hour later. The API calls
:meth:`JobSpec.from_json` on the request body and stores :meth:`JobSpec.to_json` — the spec
with every default filled in, so a stored job is reproducible even if defaults change later.

Example:
    >>> spec = JobSpec.from_json({"space": {"unary": ["x", "sigmoid"], "binary": ["mul"]},
    ...                           "budget": {"candidates": 10}})
    >>> spec.controller.kind, spec.task.name, spec.confirm.top_k
    ('evolution', 'mnist1d-mlp', 5)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from space import Space, SpaceError
from worker._executor import PRECISIONS
from worker._rejection import RejectionError, RejectionSpec

MAX_CANDIDATES = 100_000
MAX_SECONDS = 30 * 24 * 3600.0
MAX_SEEDS = 20
MAX_STEPS = 1_000_000
MAX_IN_FLIGHT = 4096
MAX_TOP_K = 100
MAX_NAME = 200


class SpecError(ValueError):
    """An invalid JobSpec; ``field`` is the dotted path of the offending value."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.reason = message
        super().__init__(f"{field}: {message}")


def _object(data: Any, path: str, known: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise SpecError(path, "must be an object")
    for key in data:
        if key not in known:
            raise SpecError(f"{path}.{key}" if path else str(key), f"unknown field; known: {', '.join(known)}")
    return data


def _int(value: Any, path: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise SpecError(path, f"must be an integer in [{low}, {high}], got {value!r}")
    return value


def _optional_int(value: Any, path: str, low: int, high: int) -> int | None:
    return None if value is None else _int(value, path, low, high)


def _name(value: Any, path: str) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_NAME:
        raise SpecError(path, f"must be a non-empty string of at most {MAX_NAME} characters")
    return value


def _task_name(value: Any, path: str) -> str:
    from evaluator import task_names

    if value not in task_names():
        raise SpecError(path, f"unknown task {value!r}; known: {', '.join(task_names())}")
    return str(value)


@dataclass(frozen=True)
class TaskSpec:
    """The child network and data: ``seeds`` networks per candidate, ``steps`` of training
    (None: the task's documented default budget), ``options`` for the task (e.g. ``path``),
    ``precision`` of the training (``bf16``: bfloat16 autocast, for GPU workers)."""

    name: str = "mnist1d-mlp"
    seeds: int = 1
    steps: int | None = None
    options: dict[str, Any] = field(default_factory=dict)
    precision: str = "fp32"

    @classmethod
    def from_json(cls, data: Any, path: str = "task") -> TaskSpec:
        data = _object(data, path, ("name", "seeds", "steps", "options", "precision"))
        precision = data.get("precision", "fp32")
        if precision not in PRECISIONS:
            raise SpecError(f"{path}.precision", f"must be one of {', '.join(PRECISIONS)}, got {precision!r}")
        name = _task_name(data.get("name", cls.name), f"{path}.name")
        options = data.get("options", {})
        if not isinstance(options, dict):
            raise SpecError(f"{path}.options", "must be an object")
        options = _data_paths(options, f"{path}.options")  # before the task opens anything
        from evaluator import TaskError, get_task

        try:
            get_task(name, **options)
        except TaskError as exc:
            raise SpecError(f"{path}.options", str(exc)) from None
        return cls(name, _int(data.get("seeds", 1), f"{path}.seeds", 1, MAX_SEEDS),
                   _optional_int(data.get("steps"), f"{path}.steps", 1, MAX_STEPS), dict(options), precision)

    def default_steps(self) -> int:
        """The training steps of one evaluation at full fidelity."""
        if self.steps is not None:
            return self.steps
        from evaluator import get_task

        return get_task(self.name, **self.options).budget.steps


def _data_paths(options: dict[str, Any], path: str) -> dict[str, Any]:
    """``options`` with each path option checked and made the real path it names
    (worker/_data_paths.py); the stored spec names the file the job reads."""
    from worker._data_paths import REFUSED, allowed_path, is_path_option

    checked = dict(options)
    for key, value in options.items():
        if isinstance(key, str) and is_path_option(key):
            real = allowed_path(value)
            if real is None:
                raise SpecError(f"{path}.{key}", REFUSED)
            checked[key] = real
    return checked


@dataclass(frozen=True)
class BudgetSpec:
    """``candidates`` new functions to evaluate, at most ``seconds`` of search wall time, and
    ``in_flight`` evaluations at once (None: as many as the executor can run)."""

    candidates: int = 100
    seconds: float | None = None
    in_flight: int | None = None

    @classmethod
    def from_json(cls, data: Any) -> BudgetSpec:
        data = _object(data, "budget", ("candidates", "seconds", "in_flight"))
        seconds = data.get("seconds")
        if seconds is not None and (isinstance(seconds, bool) or not isinstance(seconds, int | float)
                                    or not math.isfinite(seconds) or not 0 < seconds <= MAX_SECONDS):
            raise SpecError("budget.seconds", f"must be a number in (0, {MAX_SECONDS:.0f}] or null, got {seconds!r}")
        return cls(_int(data.get("candidates", 100), "budget.candidates", 1, MAX_CANDIDATES),
                   None if seconds is None else float(seconds),
                   _optional_int(data.get("in_flight"), "budget.in_flight", 1, MAX_IN_FLIGHT))


@dataclass(frozen=True)
class FidelitySpec:
    """Asynchronous successive halving: candidates start with ``rungs[0]`` training steps and
    the top 1/``eta`` continue from their checkpoint to the next rung. Empty: one fidelity."""

    rungs: tuple[int, ...] = ()
    eta: int = 3

    @classmethod
    def from_json(cls, data: Any) -> FidelitySpec:
        data = _object(data, "fidelity", ("rungs", "eta"))
        rungs = data.get("rungs", [])
        if not isinstance(rungs, list) or len(rungs) > 8:
            raise SpecError("fidelity.rungs", "must be a list of at most 8 step counts")
        steps = tuple(_int(r, f"fidelity.rungs[{i}]", 1, MAX_STEPS) for i, r in enumerate(rungs))
        if any(b <= a for a, b in zip(steps, steps[1:], strict=False)):
            raise SpecError("fidelity.rungs", "must be strictly increasing")
        return cls(steps, _int(data.get("eta", 3), "fidelity.eta", 2, 100))


@dataclass(frozen=True)
class ConfirmSpec:
    """After the search: re-evaluate the ``top_k`` with ``seeds`` seeds at ``steps`` (None: the
    search's full fidelity), and on each of ``tasks`` too (the Swish paper's transfer check)."""

    top_k: int = 5
    seeds: int = 3
    steps: int | None = None
    tasks: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, data: Any) -> ConfirmSpec:
        data = _object(data, "confirm", ("top_k", "seeds", "steps", "tasks"))
        tasks = data.get("tasks", [])
        if not isinstance(tasks, list) or len(tasks) > 8:
            raise SpecError("confirm.tasks", "must be a list of at most 8 task names")
        return cls(_int(data.get("top_k", 5), "confirm.top_k", 0, MAX_TOP_K),
                   _int(data.get("seeds", 3), "confirm.seeds", 1, MAX_SEEDS),
                   _optional_int(data.get("steps"), "confirm.steps", 1, MAX_STEPS),
                   tuple(_task_name(t, f"confirm.tasks[{i}]") for i, t in enumerate(tasks)))


@dataclass(frozen=True)
class ControllerSpec:
    kind: str = "evolution"
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class JobSpec:
    """A whole search; see DESIGN.md ("JobSpec"). Omitted fields take the defaults below."""

    name: str = "search"
    space: Space = field(default_factory=Space)
    controller: ControllerSpec = field(default_factory=ControllerSpec)
    task: TaskSpec = field(default_factory=TaskSpec)
    budget: BudgetSpec = field(default_factory=BudgetSpec)
    fidelity: FidelitySpec = field(default_factory=FidelitySpec)
    confirm: ConfirmSpec = field(default_factory=ConfirmSpec)
    seed: int = 0
    rejection: RejectionSpec = field(default_factory=RejectionSpec)

    @classmethod
    def from_json(cls, data: Any) -> JobSpec:
        """Validates ``data`` (a parsed JSON/YAML object); raises :class:`SpecError`."""
        data = _object(data, "", ("name", "space", "controller", "task", "budget", "fidelity", "confirm", "seed",
                                       "rejection"))
        try:
            space = Space.from_json(data.get("space", {}))
        except SpaceError as exc:
            raise SpecError(f"space.{exc.field}" if exc.field != "space" else "space",
                            str(exc).split(": ", 1)[-1]) from None
        except TypeError as exc:
            raise SpecError("space", str(exc)) from None
        seed = _int(data.get("seed", 0), "seed", 0, 2**31 - 1)
        controller = _controller(data.get("controller", {}), space, seed)
        spec = cls(_name(data.get("name", "search"), "name"), space, controller,
                   TaskSpec.from_json(data.get("task", {})), BudgetSpec.from_json(data.get("budget", {})),
                   FidelitySpec.from_json(data.get("fidelity", {})), ConfirmSpec.from_json(data.get("confirm", {})),
                   seed, _rejection(data.get("rejection", {})))
        if spec.fidelity.rungs and spec.task.steps is not None and spec.fidelity.rungs[-1] != spec.task.steps:
            raise SpecError("fidelity.rungs", f"the last rung must equal task.steps ({spec.task.steps})")
        return spec

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "space": self.space.to_json(),
            "controller": {"kind": self.controller.kind, "params": dict(self.controller.params)},
            "task": {"name": self.task.name, "seeds": self.task.seeds, "steps": self.task.steps,
                     "options": dict(self.task.options), "precision": self.task.precision},
            "budget": {"candidates": self.budget.candidates, "seconds": self.budget.seconds,
                       "in_flight": self.budget.in_flight},
            "fidelity": {"rungs": list(self.fidelity.rungs), "eta": self.fidelity.eta},
            "confirm": {"top_k": self.confirm.top_k, "seeds": self.confirm.seeds, "steps": self.confirm.steps,
                        "tasks": list(self.confirm.tasks)},
            "seed": self.seed,
            "rejection": self.rejection.to_json(),
        }

    def rungs(self) -> tuple[int, ...]:
        """Training steps per fidelity rung; one rung (the full budget) without ASHA."""
        return self.fidelity.rungs or (self.task.default_steps(),)


def _rejection(data: Any) -> RejectionSpec:
    try:
        return RejectionSpec.from_json(data)
    except RejectionError as exc:
        raise SpecError(f"rejection.{exc.field}" if exc.field else "rejection", exc.reason) from None


def _controller(data: Any, space: Space, seed: int) -> ControllerSpec:
    from search import ControllerError, make_controller

    data = _object(data, "controller", ("kind", "params"))
    kind = data.get("kind", "evolution")
    params = data.get("params", {})
    if not isinstance(params, dict):
        raise SpecError("controller.params", "must be an object")
    try:
        make_controller(kind, space, seed=seed, params=params)
    except ControllerError as exc:
        message = str(exc)
        bad = next((p for p in params if repr(p) in message), None)
        path = f"controller.params.{bad}" if bad is not None else "controller.kind"
        raise SpecError(path, message) from None
    except (TypeError, ValueError) as exc:
        raise SpecError("controller.params", str(exc)) from None
    return ControllerSpec(str(kind), dict(params))
