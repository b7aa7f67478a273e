"""The ``tpe`` controller: Optuna TPE over a fixed-slot encoding of the core units."""

from __future__ import annotations

import pytest

from search import ControllerError, Result, make_controller
from space import Space
from tests.search._synthetic import SPACE, median_evaluations, random_median, resumes_exactly


def test_finds_a_top_function_sooner_than_random() -> None:
    assert median_evaluations("tpe", range(9)) < random_median()


def test_resumes_exactly_from_json_state() -> None:
    assert resumes_exactly("tpe", {"n_startup_trials": 4})


def test_variable_unit_count_uses_an_n_units_slot() -> None:
    space = Space(unary=("x", "tanh", "sin"), binary=("add", "mul"), units=3, min_units=1)
    controller = make_controller("tpe", space, params={"n_startup_trials": 2})
    asked = controller.ask(6)
    controller.tell([Result(e, 0.1 * i) for i, e in enumerate(asked)])
    trials = controller.state_dict()["own"]["trials"]
    assert all(set(params) >= {"n_units", "u2_binary", "u2_input2"} for params, _, _ in trials)
    assert {status for _, _, status in trials} <= {"complete", "fail"}


def test_rejected_results_get_the_worst_value() -> None:
    controller = make_controller("tpe", SPACE)
    asked = controller.ask(3)
    controller.tell([Result(asked[0], 0.5), Result(asked[1], 0.2), Result(asked[2], None)])
    values = [value for _, value, _ in controller.state_dict()["own"]["trials"] if value is not None]
    assert values == [0.5, 0.2, 0.2]


def test_refuses_tree_spaces() -> None:
    with pytest.raises(ControllerError, match="core space"):
        make_controller("tpe", Space(form="tree", unary=("x", "sin"), binary=("add",)))


@pytest.mark.parametrize(("name", "value"), [("n_startup_trials", 0), ("multivariate", "yes"), ("constant_liar", 1)])
def test_bad_params_name_the_parameter(name: str, value: object) -> None:
    with pytest.raises(ControllerError, match=name):
        make_controller("tpe", SPACE, params={name: value})
