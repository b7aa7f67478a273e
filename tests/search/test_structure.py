"""The structural record that screens evolution's children: parts, ranks, shrinkage."""

from __future__ import annotations

import pytest

from search._structure import PRIOR_WEIGHT, StructureRecord, parts
from space import Expr

X = Expr("x")


def op(name: str, *args: Expr) -> Expr:
    return Expr(name, tuple(args))


GATED_SINE = op("sigmoid_mul", op("sqrt", X), op("sin", X))


def test_parts_are_the_root_and_the_edges_with_argument_positions() -> None:
    assert parts(GATED_SINE) == {
        ("sigmoid_mul",), ("sigmoid_mul", "0", "sqrt"), ("sigmoid_mul", "1", "sin"), ("sqrt", "0", "x"), ("sin", "0", "x"),
    }
    # the same operators in the other argument positions are other parts
    swapped = op("sigmoid_mul", op("sin", X), op("sqrt", X))
    assert parts(swapped) & parts(GATED_SINE) == {("sigmoid_mul",), ("sqrt", "0", "x"), ("sin", "0", "x")}


def test_an_empty_record_scores_every_function_alike() -> None:
    record = StructureRecord()
    assert record.score(GATED_SINE) == record.score(op("exp", X)) == 0.5


def test_a_part_that_always_led_to_rejection_condemns_the_function() -> None:
    record = StructureRecord()
    for i in range(10):
        record.add(op("mul", op("exp", X), op(("atan", "erf", "asinh", "sin")[i % 4], X)), None)  # rejected
        record.add(op("add", op(("tanh", "softsign")[i % 2], X), X), 0.1 * i)
    good = op("add", op("tanh", X), X)
    doomed = op("add", op("tanh", X), op("mul", op("exp", X), X))  # a trained root, a bad edge
    assert record.score(doomed) < 0.1 < 0.4 < record.score(good)


def test_scores_depend_on_fitness_ranks_not_on_the_scale() -> None:
    results = [(op("add", op("tanh", X), X), 0.30), (op("add", op("sin", X), X), 0.10),
               (op("mul", op("tanh", X), X), 0.20), (op("max", op("sin", X), X), None)]
    stretched = [(e, None if f is None else 1000.0 * f**3 - 5) for e, f in results]  # same order
    scores = []
    for told in (results, stretched):
        record = StructureRecord()
        for expr, fitness in told:
            record.add(expr, fitness)
        scores.append([record.score(op(b, op(u, X), X)) for b in ("add", "mul", "max") for u in ("tanh", "sin")])
    assert scores[0] == scores[1]


def test_a_part_seen_once_is_shrunk_towards_the_overall_mean() -> None:
    record = StructureRecord()
    record.add(op("add", op("tanh", X), X), 1.0)  # rank 1 of 2
    record.add(op("mul", op("sin", X), X), 0.0)  # rank 1/2
    prior = (1.0 + 0.5) / 2
    # add/0/tanh was seen once with utility 1; the shared x edges twice
    assert record.score(op("add", op("tanh", X), op("sin", X))) == pytest.approx(
        min((1.0 + PRIOR_WEIGHT * prior) / (1 + PRIOR_WEIGHT), (0.5 + PRIOR_WEIGHT * prior) / (1 + PRIOR_WEIGHT)))


@pytest.mark.parametrize("fitness", [None, float("nan"), float("inf"), float("-inf")])
def test_non_finite_fitness_counts_as_rejected(fitness: float | None) -> None:
    record = StructureRecord()
    record.add(op("add", op("tanh", X), X), 0.5)
    record.add(op("mul", op("exp", X), X), fitness)
    assert len(record) == 2
    assert record.score(op("mul", op("exp", X), X)) < record.score(op("add", op("tanh", X), X))


def test_a_record_rebuilt_from_counts_scores_exactly_as_the_original() -> None:
    """Evolution saves how often each function was observed and rebuilds the record on resume:
    the scores must be equal to the last bit, or a resumed job could choose another child."""
    unary = ("tanh", "sin", "atan", "erf", "exp", "sigmoid", "relu")
    functions = [op(b, op(u, X), op(v, X)) for b in ("add", "mul", "max") for u in unary for v in unary]
    fitness = {e: None if i % 3 == 0 else ((i * 7919) % 101) / 97 for i, e in enumerate(functions)}
    observed = [functions[(i * 31) % len(functions)] for i in range(600)]  # repeats, in a jumbled order
    original = StructureRecord()
    for expr in observed:
        original.add(expr, fitness[expr])
    counts: dict[Expr, int] = {}
    for expr in observed:
        counts[expr] = counts.get(expr, 0) + 1
    rebuilt = StructureRecord()
    for expr, times in sorted(counts.items(), key=lambda kv: str(kv[0]), reverse=True):
        for _ in range(times):
            rebuilt.add(expr, fitness[expr])
    probes = [op(b, op(u, X), op(v, X)) for b in ("add", "min", "mul") for u in unary for v in ("cos", *unary)]
    assert [rebuilt.score(e) for e in probes] == [original.score(e) for e in probes]
