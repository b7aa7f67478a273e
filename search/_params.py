"""Validation of controller parameters: one place, one message format naming the parameter."""

from __future__ import annotations

import math
from typing import Any

from search._base import ControllerError


def check_int(controller: str, name: str, value: Any, low: int, high: int) -> None:
    """An integer in [low, high]; the upper bound keeps a typo (10**9) from exhausting memory."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ControllerError(f"{controller} parameter {name!r} must be an integer in [{low}, {high}], got {value!r}")


def check_float(controller: str, name: str, value: Any, low: float, high: float = math.inf, *,
                low_open: bool = False) -> None:
    ok = not isinstance(value, bool) and isinstance(value, int | float) and low <= value <= high
    if not ok or (low_open and value == low) or value != value:
        bound = f"> {low}" if low_open else f"in [{low}, {high}]"
        raise ControllerError(f"{controller} parameter {name!r} must be a number {bound}, got {value!r}")


def check_bool(controller: str, name: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise ControllerError(f"{controller} parameter {name!r} must be true or false, got {value!r}")


def require_core_space(controller: str, space: Any, why: str) -> None:
    """Controllers whose encoding is the core-unit template refuse free-form tree spaces."""
    if space.form != "core":
        raise ControllerError(f"controller {controller!r} needs a core space (form='core'): {why}; "
                              "use 'evolution', 'surrogate' or 'random' for tree spaces")
