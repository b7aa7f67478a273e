"""The ``surrogate`` controller: k-NN over fingerprint features (AQuaSurF-style)."""

from __future__ import annotations

import pytest

from search import ControllerError, make_controller
from search.controllers.surrogate import features
from space import Space
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


@pytest.mark.parametrize(("name", "value"), [("k", 0), ("pool", "many"), ("epsilon", 1.5), ("warmup", -1)])
def test_bad_params_name_the_parameter(name: str, value: object) -> None:
    with pytest.raises(ControllerError, match=name):
        make_controller("surrogate", SPACE, params={name: value})
