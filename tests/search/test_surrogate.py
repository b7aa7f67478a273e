"""The ``surrogate`` controller: k-NN over fingerprint features (AQuaSurF-style)."""

from __future__ import annotations

import pytest

from search import ControllerError, Result, make_controller
from search.controllers.surrogate import features
from space import Space, Unit, fingerprint
from tests.search._synthetic import SPACE, median_evaluations, random_median, resumes_exactly


def test_finds_a_top_function_sooner_than_random() -> None:
    assert median_evaluations("surrogate", range(9)) < random_median()


def test_resumes_exactly_from_json_state() -> None:
    assert resumes_exactly("surrogate", {"pool": 100, "warmup": 3})


def test_searches_tree_spaces() -> None:
    space = Space(form="tree", unary=("x", "sin", "tanh"), binary=("add", "mul"), max_size=5)
    controller = make_controller("surrogate", space, params={"warmup": 2, "pool": 50})
    for _ in range(3):
        asked = controller.ask(2)
        assert len(asked) == 2
        controller.tell([])  # nothing told yet: predictions fall back to zeros, still valid
    assert controller.pending == 6


def test_features_are_finite() -> None:
    genome = next(c for c in SPACE.enumerate() if c[0].unary1 == "exp" and c[0].binary == "mul")
    assert features(SPACE, genome).shape == features(SPACE, next(SPACE.enumerate())).shape
    assert (abs(features(SPACE, genome)) < 1e3).all()


@pytest.mark.parametrize(("name", "value"), [("k", 0), ("pool", "many"), ("epsilon", 1.5), ("warmup", -1),
                                             ("mutants", -0.1), ("mutants", "half"), ("elite", 0)])
def test_bad_params_name_the_parameter(name: str, value: object) -> None:
    with pytest.raises(ControllerError, match=name):
        make_controller("surrogate", SPACE, params={name: value})


def test_mutants_are_one_mutation_from_the_elite() -> None:
    """With a pool of mutants only, every proposal after the warm-up is a neighbour of one of the
    ``elite`` best functions so far — and with uniform samples only, most are not."""
    space = Space(unary=("x", "neg", "abs", "sin", "tanh", "sigmoid", "relu", "exp", "square"),
                  binary=("add", "mul", "max", "min", "sub"))

    def neighbours_of_the_best(mutants: float) -> list[bool]:
        controller = make_controller("surrogate", space, seed=4,
                                     params={"mutants": mutants, "elite": 2, "epsilon": 0.0, "warmup": 8, "pool": 40})
        genomes: dict[str, Unit] = {}
        fitness: dict[str, float] = {}
        out = []
        for step in range(30):
            (expr,) = controller.ask(1)
            key = fingerprint(expr)
            proposed = dict(controller.state_dict()["proposed"])
            (genomes[key],) = space.candidate_from_json(proposed[key])  # one unit
            if step >= 8:
                elite = sorted(fitness, key=lambda k: -fitness[k])[:2]
                out.append(any(sum(a != b for a, b in zip(genomes[key].to_json(), genomes[e].to_json(), strict=True)) == 1
                               for e in elite))
            fitness[key] = int(key[:6], 16) / 16**6
            controller.tell([Result(expr, fitness[key])])
        return out

    assert all(neighbours_of_the_best(1.0))
    uniform = neighbours_of_the_best(0.0)
    assert sum(uniform) < len(uniform) / 2
