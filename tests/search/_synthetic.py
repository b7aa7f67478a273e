"""A tabular synthetic problem for controller-efficiency tests (Act-Bench style: fitness by lookup).

Fitness is the correlation of a function's values on [-5, 5] with those of x·σ(x), over a small
one-unit core space (191 distinct functions). The figure of merit is the number of evaluations
until a top-5 function is first evaluated, as in tabular NAS benchmarks.
"""

from __future__ import annotations

import functools
import json
import statistics
from typing import Any

import numpy as np

from search import Controller, Result, make_controller
from space import POINTS, Expr, Space, fingerprint, fingerprint_values, parse

SPACE = Space(unary=("x", "neg", "abs", "square", "sin", "tanh", "sigmoid", "relu", "exp"),
              binary=("add", "mul", "sub", "max", "min"))
_IN_RANGE = np.abs(POINTS) <= 5.0


def _fitness(expr: Expr, reference: np.ndarray) -> float | None:
    values = fingerprint_values(expr)[_IN_RANGE]
    if not np.all(np.isfinite(values)) or values.std() == 0:
        return None  # a constant or overflowing function: "rejected"
    return float(np.corrcoef(values, reference)[0, 1])


@functools.cache
def table() -> tuple[dict[str, float | None], float]:
    """fingerprint -> fitness for every function of SPACE, and the 5th best fitness."""
    reference = fingerprint_values(parse("x*sigmoid(x)"))[_IN_RANGE]
    scores = {fingerprint(e): _fitness(e, reference) for _, e in SPACE.unique()}
    return scores, sorted((f for f in scores.values() if f is not None), reverse=True)[4]


def evaluations_to_top5(kind: str, seed: int, params: dict[str, Any] | None = None,
                        batch: int = 1, budget: int = 150) -> int:
    scores, threshold = table()
    controller = make_controller(kind, SPACE, seed=seed, params=params)
    evaluations = 0
    while evaluations < budget:
        asked = controller.ask(batch)
        if not asked:
            return budget
        results = [Result(e, scores[fingerprint(e)]) for e in asked]
        for result in results:
            evaluations += 1
            if result.fitness is not None and result.fitness >= threshold:
                return evaluations
        controller.tell(results)
    return budget


def median_evaluations(kind: str, seeds: range, params: dict[str, Any] | None = None, batch: int = 1) -> float:
    return statistics.median(evaluations_to_top5(kind, s, params, batch) for s in seeds)


def random_median() -> float:
    """Random search's median over 100 seeds (14 evaluations)."""
    return median_evaluations("random", range(100))


def drive(controller: Controller, rounds: int, batch: int) -> list[str]:
    """ask(batch) and tell all but the last proposal of each round; returns the fingerprints."""
    scores, _ = table()
    out: list[str] = []
    for _ in range(rounds):
        asked = controller.ask(batch)
        out += [fingerprint(e) for e in asked]
        controller.tell([Result(e, scores[fingerprint(e)]) for e in asked[:-1]])
    return out


def resumes_exactly(kind: str, params: dict[str, Any] | None = None, batch: int = 3) -> bool:
    """A controller restored from JSON state continues exactly like the original."""
    original = make_controller(kind, SPACE, seed=3, params=params)
    drive(original, 5, batch)
    state = json.loads(json.dumps(original.state_dict()))
    restored = make_controller(kind, SPACE, seed=99, params=params)
    restored.load_state_dict(state)
    return drive(original, 5, batch) == drive(restored, 5, batch)
