"""What a JobSpec may name: operators, tasks, controllers, and the known published functions."""

from __future__ import annotations

import functools
from typing import Any

from fastapi import APIRouter, Depends

from api._auth import current_token
from api._errors import jsonable
from api._schemas import ControllerPublic, KnownPublic, Message, OperatorPublic, TaskPublic

router = APIRouter(tags=["catalogue"], dependencies=[Depends(current_token)], responses={
    401: {"model": Message, "description": "missing, invalid or revoked token"}})


@functools.cache
def _operators() -> list[OperatorPublic]:
    from space import OPERATORS

    return [OperatorPublic(name=op.name, arity=op.arity, latex=op.latex, cost=op.cost, has_beta=op.has_beta,
                           beta_init=op.beta_init, guard=op.guard, searchable=op.searchable,
                           description=op.description) for op in OPERATORS.values()]


@functools.cache
def _tasks() -> list[TaskPublic]:
    from evaluator import TaskError, get_task, task_names

    out = []
    for name in task_names():
        try:
            info: dict[str, Any] = jsonable(get_task(name).describe())
        except TaskError:  # needs options (the npz task needs a path): nothing to show by default
            info = {"name": name, "description": f"configured by task.options; see the {name!r} task docs"}
        out.append(TaskPublic.model_validate({key: info.get(key) for key in TaskPublic.model_fields}))
    return out


@functools.cache
def _controllers() -> list[ControllerPublic]:
    import search.controllers  # noqa: F401  (registers the built-in controllers)
    from search import CONTROLLERS, controller_params

    return [ControllerPublic(kind=kind, description=(CONTROLLERS[kind].__doc__ or "").strip().split("\n")[0],
                             params=jsonable(controller_params(kind))) for kind in sorted(CONTROLLERS)]


@functools.cache
def _known() -> list[KnownPublic]:
    from space import KNOWN

    return [KnownPublic(**known.to_json()) for known in KNOWN]


@router.get("/operators", operation_id="list_operators", response_model=list[OperatorPublic])
def list_operators() -> list[OperatorPublic]:
    """The operator vocabulary of spaces and expressions."""
    return _operators()


@router.get("/tasks", operation_id="list_tasks", response_model=list[TaskPublic])
def list_tasks() -> list[TaskPublic]:
    """Tasks (data + child network): default budget and the objective fitness is made of."""
    return _tasks()


@router.get("/controllers", operation_id="list_controllers", response_model=list[ControllerPublic])
def list_controllers() -> list[ControllerPublic]:
    """Search controllers and their parameters with defaults."""
    return _controllers()


@router.get("/known", operation_id="list_known_functions", response_model=list[KnownPublic])
def list_known_functions() -> list[KnownPublic]:
    """Published activation functions a candidate can be identified as."""
    return _known()
