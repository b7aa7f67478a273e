"""What the worker hears back: one :class:`EvalOutcome` per request (the row the store keeps)
and one :class:`CandidateResult` per candidate and fidelity (what the search loop is told).

Their vocabulary (ok, rejected, failed) and the mean over seeds are the evaluator's
(``evaluator._result``, which needs no torch).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from evaluator import FAILED, OK, over_seeds
from worker._request import EvalRequest

_NONFINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


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


@dataclass(frozen=True)
class CandidateResult:
    """What the search loop is told about one candidate at one fidelity: the mean over seeds
    when every seed trained, else None with the first failing seed's status and reason."""

    fitness: float | None
    cost: float | None
    status: str
    reason: str | None
    seeds: tuple[float | None, ...]

    @classmethod
    def of(cls, rows: Sequence[tuple[str, float | None, str | None]], cost: float | None) -> CandidateResult:
        """``rows``: each seed's (status, fitness, reason), stored or just arrived."""
        bad = [(status, reason) for status, _, reason in rows if status != OK]
        values = tuple(fitness for _, fitness, _ in rows)
        if bad or any(v is None or not math.isfinite(v) for v in values):
            status, reason = bad[0] if bad else (FAILED, "nonfinite_fitness")
            return cls(None, cost, status, reason, values)
        return cls(over_seeds(values).mean, cost, OK, None, values)
