"""A JobSpec's ``rejection`` section: which early-rejection checks run, and their thresholds.

The fields are those of :class:`evaluator.RejectionPolicy` (documented there), validated here so
that a mistake is a 422 naming the field (``rejection.min_loss_drop``). Kept as plain JSON on
the way to a worker (``EvalRequest.rejection``): this module never imports torch.

Example:
    >>> RejectionSpec.from_json({"signal_propagation": False}).to_json()["signal_propagation"]
    False
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

MAX_LOSS_WINDOW = 1_000_000


class RejectionError(ValueError):
    """An invalid field of the section; ``field`` is its name within it."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.reason = message
        super().__init__(f"{field}: {message}")


@dataclass(frozen=True)
class RejectionSpec:
    """Early rejection (EvoNorm-style): every check on by default.

    ``probe``: non-finite, constant or affine functions, before training;
    ``signal_propagation``: signal or gradient explodes or dies in a deep random network, before
    training; ``loss_window`` (steps, null: off) and ``min_loss_drop``: the loss must fall;
    ``quality_fraction`` (null: off): the task's accuracy floor at that fraction of the steps;
    ``grad_norm_limit``: a gradient norm above it rejects.
    """

    probe: bool = True
    signal_propagation: bool = True
    loss_window: int | None = 200
    min_loss_drop: float = 0.02
    quality_fraction: float | None = 0.25
    grad_norm_limit: float = 1e4

    @classmethod
    def from_json(cls, data: Any) -> RejectionSpec:
        """Validates ``data``; raises :class:`RejectionError` naming the field."""
        if not isinstance(data, dict):
            raise RejectionError("", "must be an object")
        known = tuple(f for f in cls.__dataclass_fields__)
        for key in data:
            if key not in known:
                raise RejectionError(str(key), f"unknown field; known: {', '.join(known)}")
        default = cls()
        window = data.get("loss_window", default.loss_window)
        if window is not None and (isinstance(window, bool) or not isinstance(window, int)
                                   or not 4 <= window <= MAX_LOSS_WINDOW):
            raise RejectionError("loss_window", f"must be an integer in [4, {MAX_LOSS_WINDOW}] or null, got {window!r}")
        fraction = data.get("quality_fraction", default.quality_fraction)
        if fraction is not None:
            fraction = _number(fraction, "quality_fraction", "in (0, 1] or null", lambda v: 0 < v <= 1)
        return cls(
            probe=_bool(data.get("probe", default.probe), "probe"),
            signal_propagation=_bool(data.get("signal_propagation", default.signal_propagation),
                                     "signal_propagation"),
            loss_window=window,
            min_loss_drop=_number(data.get("min_loss_drop", default.min_loss_drop), "min_loss_drop", "in [0, 1)",
                                  lambda v: 0 <= v < 1),
            quality_fraction=fraction,
            grad_norm_limit=_number(data.get("grad_norm_limit", default.grad_norm_limit), "grad_norm_limit",
                                    "positive", lambda v: v > 0),
        )

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _bool(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise RejectionError(name, f"must be true or false, got {value!r}")
    return value


def _number(value: Any, name: str, what: str, ok: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or not ok(value):
        raise RejectionError(name, f"must be a finite number {what}, got {value!r}")
    return float(value)
