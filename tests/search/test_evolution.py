"""Regularized evolution: random start, tournament parents, aging, Pareto tournaments, and a
sanity check that it beats random search on a synthetic fitness over the Swish paper's space."""

from __future__ import annotations

import math
import statistics
from typing import Any

import numpy as np
import pytest

from search import ControllerError, Evolution, Result, make_controller
from search.controllers.evolution import _pareto_front
from space import SWISH_PAPER_BINARY, SWISH_PAPER_UNARY, Candidate, Expr, Space, Unit, evaluate, fingerprint

SMALL = Space(unary=("x", "neg", "abs", "sigmoid", "tanh", "sin", "relu"), binary=("add", "mul", "max", "min"))


def genome_of(ctrl: Evolution, expr: Expr) -> tuple[Unit, ...]:
    proposed = dict((k, c) for k, c in ctrl.state_dict()["proposed"])
    genome = SMALL.candidate_from_json(proposed[fingerprint(expr)])
    assert isinstance(genome, tuple)
    return genome


def one_mutation_apart(a: Candidate, b: Candidate) -> bool:
    assert isinstance(a, tuple) and isinstance(b, tuple)
    (ua,), (ub,) = a, b
    return sum(x != y for x, y in zip(ua.to_json(), ub.to_json(), strict=True)) == 1


@pytest.mark.parametrize("params, name", [
    ({"population": 1}, "population"),
    ({"population": "8"}, "population"),
    ({"population": 8.0}, "population"),
    ({"tournament": 0}, "tournament"),
    ({"population": 4, "tournament": 5}, "tournament"),
    ({"tournament": True}, "tournament"),
    ({"multi_objective": "yes"}, "multi_objective"),
    ({"populaton": 8}, "populaton"),
])
def test_bad_params_name_the_parameter(params: dict[str, Any], name: str) -> None:
    with pytest.raises(ControllerError, match=name):
        make_controller("evolution", SMALL, params=params)


def test_the_initial_population_is_random_samples() -> None:
    evolution = make_controller("evolution", SMALL, seed=3, params={"population": 10, "tournament": 3})
    random = make_controller("random", SMALL, seed=3)
    assert evolution.ask(10) == random.ask(10)


def members_of(ctrl: Evolution) -> list[tuple[tuple[Unit, ...], float, float]]:
    """The population, oldest first, as (genome, fitness with −inf for rejected, cost)."""
    out = []
    for data, fitness, cost in ctrl.state_dict()["own"]["members"]:
        genome = SMALL.candidate_from_json(data)
        assert isinstance(genome, tuple)
        out.append((genome, -math.inf if fitness is None else fitness, cost))
    return out


def test_the_child_mutates_the_tournament_best_and_the_oldest_dies() -> None:
    # S = P: the parent is the best of the whole population as it stood when the child was
    # proposed — which includes re-discovered functions that joined during that ask().
    ctrl = Evolution(SMALL, population=6, tournament=6, seed=0)
    for step in range(40):
        before = members_of(ctrl)
        (expr,) = ctrl.ask(1)
        during = members_of(ctrl)
        if len(before) == 6:
            top = max(m[1] for m in during)  # several genomes of one function may share it
            assert top > -math.inf
            assert any(one_mutation_apart(genome_of(ctrl, expr), m[0]) for m in during if m[1] == top)
        fitness = None if step % 5 == 4 else int(fingerprint(expr)[:6], 16) / 16**6
        ctrl.tell([Result(expr, fitness)])
        after = members_of(ctrl)
        assert after[-1][0] == genome_of(ctrl, expr)
        assert after[:-1] == during[-5:] if len(during) == 6 else after[:-1] == during  # the oldest died


def test_rejected_members_are_never_parents_while_others_exist() -> None:
    ctrl = Evolution(SMALL, population=5, tournament=5, seed=1)
    first = ctrl.ask(5)
    ctrl.tell([Result(e, 0.3 if i == 2 else None) for i, e in enumerate(first)])
    assert [m[1] for m in members_of(ctrl)] == [-math.inf, -math.inf, 0.3, -math.inf, -math.inf]
    survivor = genome_of(ctrl, first[2])
    for _ in range(4):
        (child,) = ctrl.ask(1)
        assert survivor in [m[0] for m in members_of(ctrl)]
        assert one_mutation_apart(genome_of(ctrl, child), survivor)


def test_pareto_front_of_a_tournament() -> None:
    g: tuple[Unit, ...] = (Unit("x", "x", "add"),)
    a, b, c, d, rejected = (g, 0.9, 5.0), (g, 0.8, 1.0), (g, 0.7, 3.0), (g, 0.9, 6.0), (g, -math.inf, 0.0)
    assert _pareto_front([a, b, c, d, rejected]) == [a, b]
    assert _pareto_front([rejected, (g, -math.inf, 2.0)]) == [rejected]  # all rejected: cheapest


def test_multi_objective_parents_come_from_the_front_and_use_the_reported_cost() -> None:
    ctrl = Evolution(SMALL, population=4, tournament=4, multi_objective=True, seed=2)
    first = ctrl.ask(4)
    # the second is dominated (the third is fitter and cheaper); the others form the front
    values = [(0.1, 1.0), (0.2, 9.0), (0.5, 2.0), (0.9, 8.0)]
    ctrl.tell([Result(e, f, c) for e, (f, c) in zip(first, values, strict=True)])
    assert [m[1:] for m in members_of(ctrl)] == values  # the reported costs, not the operators'
    assert [m[1:] for m in _pareto_front(members_of(ctrl))] == [values[0], values[2], values[3]]
    parents = set()
    for _ in range(12):  # children stay pending: only re-discovered functions join meanwhile
        (child,) = ctrl.ask(1)
        front = [m[0] for m in _pareto_front(members_of(ctrl))]
        matches = [f for f in front if one_mutation_apart(genome_of(ctrl, child), f)]
        assert matches, "a child of a dominated member"
        parents.update(matches)
    assert len(parents) >= 2  # drawn uniformly from the front, not just the fittest


def test_a_known_function_rejoins_with_its_fitness_and_cost() -> None:
    ctrl = Evolution(SMALL, population=3, tournament=3, multi_objective=True, seed=0)
    first = ctrl.ask(3)
    ctrl.tell([Result(e, 0.1 * i, 4.0 + i) for i, e in enumerate(first)])
    before = len(ctrl.state_dict()["proposed"])
    for _ in range(5):
        ctrl.tell([Result(e, 0.0, 1.0) for e in ctrl.ask(1)])
    own = ctrl.state_dict()["own"]
    assert own["costs"][fingerprint(first[0])] == 4.0
    # every member is a function evaluated once; rediscovered ones carry the cost reported then
    for cand, _, cost in own["members"]:
        key = fingerprint(SMALL.to_expr(SMALL.candidate_from_json(cand)))
        assert cost == own["costs"][key]
    assert len(ctrl.state_dict()["proposed"]) == before + 5


# -- sanity: evolution beats random search (no training: a synthetic, smooth fitness)

GRID = np.linspace(-5.0, 5.0, 201)
SWISH = GRID / (1.0 + np.exp(-GRID))


@pytest.fixture(scope="module")
def paper_space_table() -> tuple[Space, dict[str, float | None], set[str]]:
    """The one-unit space of "Searching for Activation Functions" (25 unary, 10 binary: 4,011
    distinct functions); fitness is the correlation with x·σ(x) on [-5, 5]."""
    space = Space(unary=SWISH_PAPER_UNARY, binary=SWISH_PAPER_BINARY)
    table: dict[str, float | None] = {}
    for _, expr in space.unique():
        values = evaluate(expr, GRID)
        ok = bool(np.isfinite(values).all() and values.std() > 1e-9)
        table[fingerprint(expr)] = float(np.corrcoef(values, SWISH)[0, 1]) if ok else None
    fifth = sorted((f for f in table.values() if f is not None), reverse=True)[4]
    top = {k for k, f in table.items() if f is not None and f >= fifth}
    return space, table, top


def evaluations_to_top(kind: str, seed: int, space: Space, table: dict[str, float | None], top: set[str]) -> int:
    ctrl = make_controller(kind, space, seed=seed)
    for n in range(1, 4012):
        (expr,) = ctrl.ask(1)
        if fingerprint(expr) in top:
            return n
        ctrl.tell([Result(expr, table[fingerprint(expr)])])
    raise AssertionError("the space was exhausted without reaching the top 5")


def test_evolution_reaches_the_top_5_sooner_than_random(
    paper_space_table: tuple[Space, dict[str, float | None], set[str]],
) -> None:
    """Measured over 200 seeds: median 156.5 evaluations for evolution (P=32, S=8, two screened
    children; 218 with one) against 369.5 for random; 60 seeds keep the test fast with a margin."""
    space, table, top = paper_space_table
    assert len(table) == 4011 and len(top) == 5
    medians = {kind: statistics.median(evaluations_to_top(kind, s, space, table, top) for s in range(60))
               for kind in ("evolution", "random")}
    assert medians["evolution"] < 0.85 * medians["random"], medians


def test_screened_children_steer_clear_of_parts_that_were_always_rejected(
    paper_space_table: tuple[Space, dict[str, float | None], set[str]],
) -> None:
    """With two children per proposal, the one whose weakest part has the better record is
    proposed: once the record has seen that exp, sinh and cosh are always rejected, evolution
    proposes far fewer such children than the paper's algorithm (one child, unscreened)."""
    space = paper_space_table[0]
    doomed = {"exp", "sinh", "cosh"}

    def rejected_share(children: int, seed: int) -> float:
        ctrl = make_controller("evolution", space, seed=seed, params={"children": children})
        rejected = []
        for _ in range(160):
            (expr,) = ctrl.ask(1)
            bad = any(node.op in doomed for node in expr.walk())
            ctrl.tell([Result(expr, None if bad else int(fingerprint(expr)[:6], 16) / 16**6)])
            rejected.append(bad)
        return statistics.mean(rejected[64:])  # once the population (32) is full and the record has data

    plain = statistics.mean(rejected_share(1, seed) for seed in range(4))
    screened = statistics.mean(rejected_share(2, seed) for seed in range(4))
    assert screened < 0.5 * plain, (screened, plain)
