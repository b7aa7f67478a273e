"""Spaces: exact counts, deterministic enumeration and sampling, mutations that stay inside."""

from __future__ import annotations

import itertools
import random

import pytest

from space import SWISH_PAPER_BINARY, SWISH_PAPER_UNARY, Expr, fingerprint, parse
from space._core import Unit, genome_to_expr
from space._space import Space, SpaceError

SMALL = Space(unary=("x", "neg", "sin", "sigmoid", "beta_mul"), binary=("add", "mul", "max"))


def test_the_swish_paper_space_sizes() -> None:
    assert len(SWISH_PAPER_UNARY) == 25 and len(SWISH_PAPER_BINARY) == 10
    assert Space().count() == 25 * 25 * 10
    assert Space(units=2).count() == (25 * 25 * 10) * (25 * 25 * 10 * 4)
    assert Space(units=2, min_units=1).count() == 6250 + 6250 * 25000


def test_count_matches_enumeration() -> None:
    for space in (SMALL, Space(unary=("x", "tanh"), binary=("add", "mul"), units=2, min_units=1)):
        candidates = list(space.enumerate())
        assert len(candidates) == space.count()
        assert len(set(candidates)) == len(candidates)
        assert all(space.contains(c) for c in candidates)


def test_tree_count_matches_enumeration() -> None:
    space = Space(form="tree", unary=("x", "sin", "exp", "beta"), binary=("add", "mul"),
                  constants=(1.0, 2.0), max_size=5, max_depth=3)
    trees = list(space.enumerate())
    assert len(trees) == space.count() == len(set(trees))
    assert all(space.contains(t) and t.size <= 5 and t.depth <= 3 for t in trees)


def test_unique_functions_are_deduplicated_by_fingerprint() -> None:
    unique = list(SMALL.unique())
    keys = [fingerprint(e) for _, e in unique]
    assert len(keys) == len(set(keys))
    assert len(unique) < SMALL.count()
    # x*sigmoid(x) and sigmoid(x)*x are one function: only one of them survives
    swish = fingerprint(parse("x*sigmoid(x)"))
    assert keys.count(swish) == 1
    assert [c for c, _ in unique] == [c for c, _ in SMALL.unique()]  # deterministic


def test_core_units_build_the_paper_template() -> None:
    genome = (Unit("x", "sigmoid", "mul"),)
    assert genome_to_expr(genome) == parse("x*sigmoid(x)")
    two = (Unit("x", "beta_mul", "mul"), Unit("x", "sin", "add", 1, 0))
    assert genome_to_expr(two) == parse("x*beta_mul(x, beta) + sin(x)")
    reuse = (Unit("beta_mul", "beta_mul", "add"), Unit("x", "x", "mul", 1, 1))
    assert str(genome_to_expr(reuse)) == "(beta_mul(x, beta) + beta_mul(x, beta1)) * (beta_mul(x, beta) + beta_mul(x, beta1))"


def test_sampling_is_seeded_and_inside_the_space() -> None:
    for space in (Space(units=3, min_units=1), Space(form="tree", max_size=12, max_depth=5, constants=(0.5,))):
        a = [space.sample(random.Random(7)) for _ in range(3)]
        b = [space.sample(random.Random(7)) for _ in range(3)]
        assert a == b
        rng = random.Random(1)
        samples = [space.sample(rng) for _ in range(200)]
        assert all(space.contains(s) for s in samples)
        assert len({space.to_expr(s) for s in samples}) > 150


@pytest.mark.parametrize(
    "space",
    [
        Space(),
        Space(units=3, min_units=1),
        Space(units=2, unary=("x", "tanh"), binary=("add",)),
        Space(form="tree", max_size=10, max_depth=4, constants=(1.0, 2.0, 0.5)),
        Space(form="tree", unary=("x", "sin"), binary=("add",), max_size=3, max_depth=3),
    ],
)
def test_mutations_always_yield_valid_different_members(space: Space) -> None:
    rng = random.Random(3)
    candidate = space.sample(rng)
    changed = 0
    for _ in range(300):
        child = space.mutate(candidate, rng)
        assert space.contains(child)
        space.to_expr(child)  # compiles to a valid expression
        changed += child != candidate
        candidate = child
    assert changed >= 290


def test_mutations_cover_every_kind() -> None:
    space = Space(units=3, min_units=1)
    rng = random.Random(5)
    lengths = set()
    genome = space.sample(rng)
    for _ in range(500):
        genome = space.mutate(genome, rng)
        lengths.add(len(genome))
    assert lengths == {1, 2, 3}


def test_tree_mutation_perturbs_constants() -> None:
    space = Space(form="tree", unary=("x", "sin"), binary=("add", "mul"), constants=(1.0, 2.0, 3.0), max_size=5)
    rng = random.Random(0)
    start = parse("x + 1")
    seen = {space.mutate(start, rng) for _ in range(200)}
    assert parse("x + 2") in seen and parse("x + 3") in seen


def test_json_round_trip() -> None:
    space = Space(units=2, min_units=1, unary=("x", "sin", "beta_mul"), binary=("add", "mul"))
    assert Space.from_json(space.to_json()) == space
    rng = random.Random(0)
    for candidate in (space.sample(rng) for _ in range(20)):
        assert space.candidate_from_json(space.candidate_to_json(candidate)) == candidate
    tree = Space(form="tree", constants=(1.0,))
    expr = tree.sample(rng)
    assert isinstance(expr, Expr)
    assert tree.candidate_from_json(tree.candidate_to_json(expr)) == expr


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"unary": ["x", "nope"]}, "unary"),
        ({"unary": ["add"]}, "unary"),
        ({"binary": ["sin"]}, "binary"),
        ({"binary": []}, "binary"),
        ({"unary": ["x", "x"]}, "unary"),
        ({"units": 4}, "units"),
        ({"units": 0}, "units"),
        ({"units": "2"}, "units"),
        ({"units": 2, "min_units": 3}, "min_units"),
        ({"form": "graph"}, "form"),
        ({"form": "tree", "max_size": 1000}, "max_size"),
        ({"colour": "red"}, "colour"),
        ({"unary": "x"}, "unary"),
        ({"constants": [1e9]}, "constants"),
    ],
)
def test_bad_spaces_name_the_field(data: dict[str, object], field: str) -> None:
    with pytest.raises(SpaceError) as info:
        Space.from_json(data)
    assert info.value.field == field


def test_candidate_outside_the_space_is_rejected() -> None:
    with pytest.raises(SpaceError):
        SMALL.candidate_from_json([["tanh", "x", "add", 0, 0]])
    with pytest.raises(SpaceError):
        SMALL.candidate_from_json([["x", "x", "add", 1, 0]])


def test_the_swish_paper_one_unit_space_has_about_four_thousand_functions() -> None:
    # Recorded in the README; 6,250 syntactic candidates collapse to this many functions.
    unique = sum(1 for _ in Space().unique())
    assert 3900 <= unique <= 4100
    assert list(itertools.islice(Space().unique(), 3))[0][1] == parse("x + x")
