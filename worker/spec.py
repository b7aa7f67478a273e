"""The JobSpec: what a user asks the service to search — one pydantic model that is the
validation, the OpenAPI schema and the documentation at once.

Validation is complete at submission and reports *every* mistake, each with the dotted path of
its field (``budget.candidates``, ``tasks[1].hurdle``, ``controller.params.population``), so a
user fixes a spec in one round instead of one error per round. It runs in two passes:

1. the shape: each section is validated by its model (types, ranges, unknown fields) on its
   own, so an error in one section does not hide those in another;
2. the meaning: operators, tasks and their options, data paths, controller parameters against
   the space, hurdles and baselines — checks that need other packages (``space``, ``search``,
   ``evaluator`` imported when validating, never at import: the API process imports this
   module without torch) or several sections at once; each runs where its inputs passed pass 1.

The API calls :meth:`JobSpec.from_json` on the request body and stores :meth:`JobSpec.to_json`,
the spec with every default filled in, so a stored job is reproducible even if defaults change.

Example:
    >>> spec = JobSpec.from_json({"space": {"unary": ["x", "sigmoid"], "binary": ["mul"]},
    ...                           "budget": {"candidates": 10}})
    >>> spec.controller.kind, spec.task.name, spec.confirm.top_k, spec.baselines
    ('evolution', 'mnist1d-mlp', 5, ['relu(x)', 'x*sigmoid(x)'])
    >>> try:
    ...     JobSpec.from_json({"budget": {"candidates": 0}, "seed": -1})
    ... except SpecError as exc:
    ...     print(exc.problems)
    [('budget.candidates', 'must be greater than or equal to 1, got 0'), ('seed', 'must be greater than or equal to 0, got -1')]
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from functools import cache
from typing import Annotated, Any, Literal, cast

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

MAX_CANDIDATES = 100_000
MAX_SECONDS = 30 * 24 * 3600.0
MAX_SEEDS = 20
MAX_STEPS = 1_000_000
MAX_IN_FLIGHT = 4096
MAX_TOP_K = 100
MAX_NAME = 200
MAX_TASKS = 8
MAX_BASELINES = 4
MAX_LOSS_WINDOW = 1_000_000
PRECISIONS = ("fp32", "bf16")  # bf16: bfloat16 autocast
AGGREGATES = ("mean", "min")
DEFAULT_BASELINES = ("relu(x)", "x*sigmoid(x)")  # ReLU and SiLU (Swish with β = 1)
# The fitness of a spec that names no task: two deep networks, so that the function a search
# names best is one a user can adopt in a deep network (issue 16: on the shallow 2-layer proxy
# x + x² won by five points and diverged at depth 12). The plain 12-layer MLP is the cheaper
# (1.1 s a candidate in a population of 32 on 2 cores) and holds back the residual one (2.2 s):
# a function 25 % worse than the baselines' mean there is not trained further. "min": good on
# both. Both tasks rank functions alike from seed to seed (Spearman 0.97 and 0.99:
# docs/fitness_fidelity_mnist1d-deep-mlp.txt, …-resmlp.txt).
DEFAULT_TASKS: tuple[dict[str, Any], ...] = ({"name": "mnist1d-deep-mlp", "hurdle": -0.25}, {"name": "mnist1d-resmlp"})
DEFAULT_AGGREGATE = "min"

Problem = tuple[str, str]  # (dotted field path, message)

EXAMPLE_SPEC: dict[str, Any] = {
    "name": "swish-rediscovery",
    "space": {"unary": ["x", "neg", "abs", "square", "sigmoid", "tanh", "sin", "exp", "relu"],
              "binary": ["add", "mul", "sub", "max", "min"], "units": 1},
    "controller": {"kind": "evolution", "params": {"population": 32, "tournament": 8}},
    "task": {"name": "mnist1d-mlp", "seeds": 1},
    "budget": {"candidates": 200, "seconds": 3600},
    "confirm": {"top_k": 5, "seeds": 3},
    "seed": 0,
}

MULTI_TASK_EXAMPLE: dict[str, Any] = {
    "name": "deep-and-shallow",
    "space": {"unary": ["x", "neg", "abs", "square", "sigmoid", "tanh", "sin", "exp", "relu"],
              "binary": ["add", "mul", "sub", "max", "min"], "units": 1},
    "controller": {"kind": "evolution", "params": {"population": 16, "tournament": 4}},
    "tasks": [{"name": "mnist1d-mlp", "steps": 600, "hurdle": -0.1},
              {"name": "digits-cnn", "weight": 2}],
    "aggregate": "min",
    "baselines": ["relu(x)", "x*sigmoid(x)"],
    "budget": {"candidates": 64},
}


class SpecError(ValueError):
    """An invalid JobSpec: ``problems`` lists every (field path, message) found; ``field`` and
    ``reason`` are the first of them."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        self.field, self.reason = problems[0]
        super().__init__("; ".join(f"{field}: {message}" if field else message for field, message in problems))


class _Section(BaseModel):
    # strict: "5" is not 5 and true is not 1; NaN and infinities are not numbers here
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)

    def problems(self) -> Iterator[Problem]:
        """What the shape cannot say is wrong: paths relative to the section."""
        return iter(())


def _count(default: int, low: int, high: int, description: str) -> Any:
    return Field(default, ge=low, le=high, description=description)


@cache
def _space_default(name: str) -> tuple[str, ...]:
    from space._operators import SWISH_PAPER_BINARY, SWISH_PAPER_UNARY

    return SWISH_PAPER_UNARY if name == "unary" else SWISH_PAPER_BINARY


class SpaceSpec(_Section):
    """The search space: operators (``GET /operators``) and the shape of candidates."""

    unary: list[str] = Field(default_factory=lambda: list(_space_default("unary")), max_length=64,
                             description="unary operator names")
    binary: list[str] = Field(default_factory=lambda: list(_space_default("binary")), max_length=64,
                              description="binary operator names")
    units: int = Field(default=1, description="core form: the most core units in a candidate (the Swish paper used 1-3)")
    min_units: int | None = Field(default=None, description="core form: the fewest units; null: exactly units")
    form: Literal["core", "tree"] = Field(default="core", description="'core' (the Swish paper's template) or 'tree'")
    max_size: int = Field(default=9, description="tree form: at most this many nodes")
    max_depth: int = Field(default=4, description="tree form: at most this many levels")
    constants: list[float] = Field(default_factory=list, max_length=64, description="tree form: constant leaves")

    def to_space(self) -> Any:
        """The :class:`space.Space` (raises :class:`space.SpaceError`)."""
        from space import Space

        return Space(**self.model_dump())

    def problems(self) -> Iterator[Problem]:
        from space import SpaceError

        try:
            self.to_space()
        except SpaceError as exc:
            yield exc.field, str(exc).split(": ", 1)[-1]


class ControllerSpec(_Section):
    """The search controller (``GET /controllers``) and its parameters."""

    kind: str = Field(default="evolution", max_length=MAX_NAME, description="see GET /controllers")
    params: dict[str, Any] = Field(default_factory=dict, description="controller parameters")


class TaskSpec(_Section):
    """A child network and data set (``GET /tasks``): ``seeds`` networks per candidate, trained
    ``steps`` steps. In a multi-task job (``tasks``), ``weight`` is its share of the mean and
    ``hurdle`` the normalised score a candidate must reach here to be trained on later tasks."""

    name: str = Field(default="mnist1d-mlp", max_length=MAX_NAME, description="see GET /tasks")
    seeds: int = _count(1, 1, MAX_SEEDS, "child networks per candidate")
    steps: int | None = Field(default=None, ge=1, le=MAX_STEPS, description="training steps; null: the task's default")
    options: dict[str, Any] = Field(default_factory=dict, description="task options, e.g. depth, path")
    precision: Literal["fp32", "bf16"] = Field(default="fp32", description="'fp32', or 'bf16' (bfloat16 autocast)")
    weight: float = Field(default=1.0, gt=0, le=1000, description="multi-task: weight in the mean of normalised scores")
    hurdle: float | None = Field(default=None, ge=-1e6, le=1e6, description=(
        "multi-task: the normalised score (relative to the baselines' mean: 0 = as good, -0.1 = 10 % "
        "worse) a candidate must reach on this task to be trained on the later ones; null: none"))

    def problems(self) -> Iterator[Problem]:
        from evaluator import TaskError, get_task, task_names

        if self.name not in task_names():
            yield "name", f"unknown task {self.name!r}; known: {', '.join(task_names())}"
            return
        options = dict(self.options)
        for key, problem in _data_path_problems(options):
            yield f"options.{key}", problem
            return
        try:
            get_task(self.name, **_real_paths(options))
        except TaskError as exc:
            yield "options", str(exc)

    def checked(self) -> TaskSpec:
        """This task with its path options made the real paths they name (the stored spec
        names the file the job reads)."""
        return self.model_copy(update={"options": _real_paths(dict(self.options))})

    def default_steps(self) -> int:
        """The training steps of one evaluation at full fidelity."""
        if self.steps is not None:
            return self.steps
        from evaluator import get_task

        return get_task(self.name, **self.options).budget.steps


def _data_path_problems(options: dict[str, Any]) -> Iterator[Problem]:
    """Path options outside the data directories (worker/_data_paths.py), before the task
    opens anything."""
    from worker._data_paths import REFUSED, allowed_path, is_path_option

    for key, value in options.items():
        if isinstance(key, str) and is_path_option(key) and allowed_path(value) is None:
            yield key, REFUSED


def _real_paths(options: dict[str, Any]) -> dict[str, Any]:
    from worker._data_paths import allowed_path, is_path_option

    return {key: (allowed_path(value) if isinstance(key, str) and is_path_option(key) else value)
            for key, value in options.items()}


class BudgetSpec(_Section):
    """``candidates`` new functions to evaluate, at most ``seconds`` of search wall time, and
    ``in_flight`` evaluations at once (null: as many as the executor can run)."""

    candidates: int = _count(100, 1, MAX_CANDIDATES, "new functions to evaluate")
    seconds: float | None = Field(default=None, gt=0, le=MAX_SECONDS, description="search wall-time limit; null: none")
    in_flight: int | None = Field(default=None, ge=1, le=MAX_IN_FLIGHT, description="evaluations at once; null: capacity")


class FidelitySpec(_Section):
    """Asynchronous successive halving: candidates start with ``rungs[0]`` training steps and
    the top 1/``eta`` continue from their checkpoint to the next rung. Empty: one fidelity.
    In a multi-task job the rungs count the first task's steps; the others scale with them."""

    rungs: list[Annotated[int, Field(ge=1, le=MAX_STEPS)]] = Field(default_factory=list, max_length=8, description=(
        "training steps per rung (ASHA), increasing; each rung trains a stretch of the last rung's "
        "schedule and a promoted candidate continues from its checkpoint"))
    eta: int = _count(3, 2, 100, "keep the top 1/eta at each rung")

    def problems(self) -> Iterator[Problem]:
        if any(b <= a for a, b in zip(self.rungs, self.rungs[1:], strict=False)):
            yield "rungs", "must be strictly increasing"


class ConfirmSpec(_Section):
    """After the search: re-evaluate the ``top_k`` (and the baselines) with ``seeds`` seeds at
    ``steps`` (null: the search's full fidelity) on every scored task, and on each of ``tasks``
    too (the Swish paper's transfer check): each candidate gets a transfer verdict."""

    top_k: int = _count(5, 0, MAX_TOP_K, "candidates re-evaluated after the search")
    seeds: int = _count(3, 1, MAX_SEEDS, "seeds per candidate and task")
    steps: int | None = Field(default=None, ge=1, le=MAX_STEPS, description="training steps; null: the search's")
    tasks: list[str] = Field(default_factory=list, max_length=MAX_TASKS,
                             description="extra tasks, not scored, for the transfer verdict")

    def problems(self) -> Iterator[Problem]:
        from evaluator import task_names

        for index, name in enumerate(self.tasks):
            if name not in task_names():
                yield f"tasks[{index}]", f"unknown task {name!r}; known: {', '.join(task_names())}"


class RejectionSpec(_Section):
    """Early rejection (EvoNorm-style): which checks run (all on by default) and their
    thresholds. The fields are those of :class:`evaluator.RejectionPolicy`."""

    probe: bool = Field(default=True, description="before training: non-finite, constant or affine functions")
    signal_propagation: bool = Field(default=True, description=(
        "before training: reject functions whose signal or gradient explodes or dies in a deep "
        "(32-layer, He-initialised) random network; the gains are stored either way"))
    loss_window: int | None = Field(default=200, ge=4, le=MAX_LOSS_WINDOW,
                                    description="steps after which the loss must have fallen; null: off")
    min_loss_drop: float = Field(default=0.02, ge=0, lt=1, description="required relative fall of the training loss")
    quality_fraction: float | None = Field(default=0.25, gt=0, le=1, description=(
        "fraction of the steps at which the task's accuracy floor must be reached; null: off"))
    grad_norm_limit: float = Field(default=1e4, gt=0, description="a gradient norm above this rejects")

    def to_json(self) -> dict[str, Any]:
        return self.model_dump()


class JobSpec(_Section):
    """A search to run. Omitted fields take their defaults; unknown fields are rejected.

    One task (``task``) or several (``tasks``, scored together: each task's fitness is
    normalised against the baselines' mean there, ``(f - b) / |b|``, then ``aggregate``d —
    the weighted ``mean``, or the ``min``: good everywhere). A spec that names neither is
    scored on ``DEFAULT_TASKS`` (a deep plain MLP with a hurdle, then a deep residual MLP, on
    MNIST-1D) by their ``min``."""

    model_config = ConfigDict(title="JobSpec", json_schema_extra={"examples": [EXAMPLE_SPEC, MULTI_TASK_EXAMPLE]})

    name: str = Field(default="search", min_length=1, max_length=MAX_NAME, description="a name for people")
    space: SpaceSpec = Field(default=SpaceSpec())
    controller: ControllerSpec = Field(default=ControllerSpec())
    task: TaskSpec = Field(default=TaskSpec(), description="the task, when there is one")
    tasks: list[TaskSpec] = Field(default_factory=list, max_length=MAX_TASKS, description=(
        "several tasks scored together, cheap first (hurdles hold back the later ones); replaces task. "
        "A spec with neither task nor tasks is scored on mnist1d-deep-mlp (hurdle -0.25) then "
        "mnist1d-resmlp, aggregate min"))
    aggregate: Literal["mean", "min"] = Field(default="mean", description=(
        "multi-task: 'mean' (weighted) or 'min' of the normalised per-task scores"))
    baselines: list[str] = Field(default_factory=lambda: list(DEFAULT_BASELINES), max_length=MAX_BASELINES,
                                 description=("expressions trained beside the candidates on every task and seed; "
                                              "scores are shown relative to them; [] for none"))
    budget: BudgetSpec = Field(default=BudgetSpec())
    fidelity: FidelitySpec = Field(default=FidelitySpec())
    confirm: ConfirmSpec = Field(default=ConfirmSpec())
    seed: int = Field(default=0, ge=0, le=2**31 - 1, description="seeds the controller and the child networks")
    rejection: RejectionSpec = Field(default=RejectionSpec())

    @classmethod
    def from_json(cls, data: Any) -> JobSpec:
        """Validates ``data`` (a parsed JSON/YAML object); raises :class:`SpecError` listing
        every problem."""
        if not isinstance(data, dict):
            raise SpecError([("", "must be an object")])
        data = with_default_fitness(data)
        sections, problems = _shape(cls, data)
        problems += _meaning(sections, data)
        if problems:
            raise SpecError(problems)
        spec = cls.model_validate(data)
        return spec.model_copy(update={"task": spec.task.checked(), "tasks": [t.checked() for t in spec.tasks]})

    def to_json(self) -> dict[str, Any]:
        """The spec with every default filled in; ``task`` or ``tasks``, whichever it uses."""
        return self.model_dump(mode="json", exclude={"task"} if self.tasks else {"tasks", "aggregate"})

    @property
    def scored_tasks(self) -> list[TaskSpec]:
        """The tasks that make a candidate's fitness, in training order."""
        return list(self.tasks) or [self.task]

    @property
    def primary(self) -> TaskSpec:
        """The first scored task: its steps are the fidelity rungs'."""
        return self.scored_tasks[0]

    def rungs(self) -> tuple[int, ...]:
        """Training steps of the first task per fidelity rung; one rung (the full budget) without ASHA."""
        return tuple(self.fidelity.rungs) or (self.primary.default_steps(),)

    def steps_of(self, task: TaskSpec, steps: int) -> int:
        """``steps`` of the first task as steps of ``task``: rungs scale with each task's budget."""
        last = self.rungs()[-1]
        if task is self.primary:
            return steps
        return task.default_steps() if steps == last else max(1, round(task.default_steps() * steps / last))


def with_default_fitness(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` with the default fitness (``DEFAULT_TASKS``, aggregated by their ``min`` unless
    it says otherwise) where it names no task."""
    if "task" in data or "tasks" in data:
        return data
    return {**data, "tasks": [dict(task) for task in DEFAULT_TASKS], "aggregate": data.get("aggregate",
                                                                                           DEFAULT_AGGREGATE)}


@cache
def _adapter(annotation: Any, field: Any) -> TypeAdapter[Any]:
    return TypeAdapter(Annotated[annotation, field], config=None if _is_model(annotation) else _Section.model_config)


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _shape(cls: type[JobSpec], data: dict[str, Any]) -> tuple[dict[str, Any], list[Problem]]:
    """Pass 1: each top-level field validated on its own; returns the valid ones and the problems."""
    problems: list[Problem] = [(str(key), f"unknown field; known: {', '.join(cls.model_fields)}")
                               for key in data if key not in cls.model_fields]
    sections: dict[str, Any] = {}
    for name, field in cls.model_fields.items():
        try:
            value = data[name] if name in data else field.get_default(call_default_factory=True)
            sections[name] = _adapter(cast(Any, field.annotation), field).validate_python(value)
        except ValidationError as exc:
            problems += [(_dotted((name, *error["loc"])), _message(error, name)) for error in exc.errors()]
    return sections, problems


def _meaning(sections: dict[str, Any], data: dict[str, Any]) -> list[Problem]:
    """Pass 2: the checks that need the operator, task and controller registries or several
    sections, on the sections that passed pass 1."""
    problems: list[Problem] = []
    for name, value in sections.items():
        items = list(enumerate(value)) if isinstance(value, list) else [(None, value)]
        for index, item in items:
            if isinstance(item, _Section):
                where = name if index is None else f"{name}[{index}]"
                problems += [(f"{where}.{path}", message) for path, message in item.problems()]
    space = sections.get("space")
    if space is not None and "controller" in sections and not any(
            p[0].startswith(("space.", "controller.")) for p in problems):
        problems += _controller_problems(sections["controller"], space.to_space(), sections.get("seed", 0))
    if isinstance(sections.get("name"), str) and not sections["name"].strip():
        problems.append(("name", "must not be blank"))
    problems += _task_problems(sections, data)
    if "baselines" in sections:
        problems += _baseline_problems(sections["baselines"])
    return problems


def _task_problems(sections: dict[str, Any], data: dict[str, Any]) -> Iterator[Problem]:
    if "task" in data and "tasks" in data:
        yield "tasks", "give either task (one task) or tasks (several), not both"
    tasks: list[TaskSpec] | None = sections.get("tasks")
    task: TaskSpec | None = sections.get("task")
    if task is not None and "tasks" not in data:
        if task.hurdle is not None:
            yield "task.hurdle", "a hurdle holds back later tasks: list several in tasks"
    if tasks:
        names = [t.name for t in tasks]
        for index, name in enumerate(names):
            if name in names[:index]:
                yield f"tasks[{index}].name", f"{name!r} is listed twice; each task once"
        if tasks[-1].hurdle is not None:
            yield f"tasks[{len(tasks) - 1}].hurdle", "the last task has no later task to hold back"
        if len(tasks) > 1 and sections.get("baselines") == []:
            yield "baselines", "several tasks are scored relative to the baselines: list at least one"
    elif "tasks" in data and tasks == []:
        yield "tasks", "must list at least one task (or give task instead)"
    primary = tasks[0] if tasks else task
    fidelity: FidelitySpec | None = sections.get("fidelity")
    if fidelity and fidelity.rungs and primary is not None and primary.steps is not None \
            and fidelity.rungs[-1] != primary.steps:
        yield "fidelity.rungs", f"the last rung must equal the first task's steps ({primary.steps})"


def _baseline_problems(baselines: list[str]) -> Iterator[Problem]:
    from space import ParseError, fingerprint, parse

    seen: set[str] = set()
    for index, text in enumerate(baselines):
        try:
            key = fingerprint(parse(text))
        except ParseError as exc:
            yield f"baselines[{index}]", str(exc)
            continue
        if key in seen:
            yield f"baselines[{index}]", f"{text!r} is the same function as an earlier baseline"
        seen.add(key)


def _controller_problems(controller: ControllerSpec, space: Any, seed: int) -> list[Problem]:
    from search import ControllerError, make_controller

    try:
        make_controller(controller.kind, space, seed=seed, params=dict(controller.params))
    except ControllerError as exc:
        message = str(exc)
        bad = next((p for p in controller.params if repr(p) in message), None)
        return [(f"controller.params.{bad}" if bad is not None else "controller.kind", message)]
    except (TypeError, ValueError) as exc:
        return [("controller.params", str(exc))]
    return []


def _dotted(loc: tuple[Any, ...]) -> str:
    """``("confirm", "tasks", 1)`` -> ``confirm.tasks[1]``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _message(error: Any, section: str) -> str:
    """pydantic's message in this module's voice: "must be …, got X", with both bounds of a
    range where the field has them."""
    kind, loc = error["type"], error["loc"]
    if kind == "extra_forbidden":
        model = _model_at(section, loc[:-1])
        return "unknown field; known: " + ", ".join(model.model_fields if model is not None else ())
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return "must be an object"
    text = str(error["msg"])
    for prefix, replacement in (("Input should be ", "must be "), ("Value should have ", "must have "),
                                ("List should have ", "must have "), ("String should have ", "must have ")):
        if text.startswith(prefix):
            text = replacement + text[len(prefix):]
    if kind == "finite_number":
        text = "must be a finite number"
    elif kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        text = _range(section, loc) or text
    return text if kind == "missing" or isinstance(error.get("input"), dict | list) else f"{text}, got {error['input']!r}"


def _range(section: str, loc: tuple[Any, ...]) -> str | None:
    """"must be an integer in [1, 100]" for the field at ``loc``, from its constraints."""
    model, name = (_model_at(section, loc[:-1]), loc[-1]) if loc else (JobSpec, section)
    if model is None or not isinstance(name, str) or name not in model.model_fields:
        return None
    field = model.model_fields[name]
    bounds = {type(m).__name__: getattr(m, type(m).__name__.lower()) for m in field.metadata if type(m).__name__ in
              ("Ge", "Gt", "Le", "Lt")}
    if len(bounds) != 2:
        return None
    low = f"[{bounds['Ge']}" if "Ge" in bounds else f"({bounds['Gt']}"
    high = f"{bounds['Le']}]" if "Le" in bounds else f"{bounds['Lt']})"
    what = "an integer" if int in (field.annotation, *getattr(field.annotation, "__args__", ())) else "a number"
    return f"must be {what} in {low}, {high}"


def _model_at(section: str, loc: tuple[Any, ...]) -> Any:
    """The model class that holds the field at ``section`` + ``loc`` + one more name."""
    model: Any = JobSpec.model_fields[section].annotation
    for part in loc:
        if not _is_model(model):  # a list (or optional) of models
            model = next((a for a in getattr(model, "__args__", ()) if _is_model(a)), None)
        if isinstance(part, str) and model is not None:
            model = model.model_fields[part].annotation
    if not _is_model(model):
        model = next((a for a in getattr(model, "__args__", ()) if _is_model(a)), None)
    return model


def openapi_schema() -> dict[str, Any]:
    """The JobSpec's JSON schema as the OpenAPI document shows it."""
    return JobSpec.model_json_schema()


def warm_up() -> None:
    """Imports what validating a spec's meaning needs (the evaluator, with torch, its tasks, and
    the controllers) by validating the examples: run in the background when a server starts, so
    that its first submission does not wait seconds for them."""
    try:
        import evaluator  # noqa: F401
        import search.controllers  # noqa: F401

        for example in (EXAMPLE_SPEC, MULTI_TASK_EXAMPLE):
            JobSpec.from_json(example)
    except Exception:  # noqa: BLE001  (a broken optional import shows up on use, with its message)
        logging.getLogger(__name__).debug("warm-up import failed", exc_info=True)
