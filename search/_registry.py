"""Controllers by name, as JobSpecs select them: ``make_controller("evolution", space, ...)``."""

from __future__ import annotations

import inspect
from typing import Any

from search._base import Controller, ControllerError
from space import Space

CONTROLLERS: dict[str, type[Controller]] = {}


def register(cls: type[Controller]) -> type[Controller]:
    CONTROLLERS[cls.name] = cls
    return cls


def controller_params(kind: str) -> dict[str, Any]:
    """The parameters a controller accepts, with their defaults (for /controllers and docs)."""
    cls = _get(kind)
    signature = inspect.signature(cls.__init__)
    return {
        name: (None if p.default is inspect.Parameter.empty else p.default)
        for name, p in signature.parameters.items()
        if p.kind == inspect.Parameter.KEYWORD_ONLY and name != "seed"
    }


def make_controller(kind: str, space: Space, *, seed: int = 0, params: dict[str, Any] | None = None) -> Controller:
    """Builds controller ``kind``; an unknown kind or parameter is a :class:`ControllerError`."""
    cls = _get(kind)
    params = dict(params or {})
    unknown = set(params) - set(controller_params(kind))
    if unknown:
        known = ", ".join(controller_params(kind)) or "none"
        raise ControllerError(f"controller {kind!r} has no parameter {sorted(unknown)[0]!r}; known: {known}")
    return cls(space, seed=seed, **params)


def _get(kind: str) -> type[Controller]:
    import search.controllers  # noqa: F401  (registers the built-in controllers)

    try:
        return CONTROLLERS[kind]
    except KeyError:
        raise ControllerError(f"unknown controller {kind!r}; known: {', '.join(sorted(CONTROLLERS))}") from None
