"""JobSpec validation: every mistake is refused at submission with the field that is wrong."""

from __future__ import annotations

import json

import pytest

from worker import JobSpec, SpecError

SMALL = {"space": {"unary": ["x", "sigmoid", "tanh"], "binary": ["mul", "add"]}, "budget": {"candidates": 5}}


def error(data: object) -> SpecError:
    with pytest.raises(SpecError) as info:
        JobSpec.from_json(data)
    return info.value


def test_defaults_are_filled_and_round_trip():
    spec = JobSpec.from_json(SMALL)
    assert spec.controller.kind == "evolution" and spec.task.name == "mnist1d-mlp" and spec.task.seeds == 1
    assert spec.confirm.top_k == 5 and spec.confirm.seeds == 3 and spec.seed == 0
    stored = json.loads(json.dumps(spec.to_json()))
    assert JobSpec.from_json(stored) == spec


def test_the_design_example_is_valid():
    # DESIGN.md's JobSpec, as the API documents it (the example of POST /jobs in OpenAPI)
    from api._spec_doc import EXAMPLE_SPEC

    assert JobSpec.from_json(EXAMPLE_SPEC).budget.seconds == 3600.0


@pytest.mark.parametrize(("data", "field", "words"), [
    ({"spaec": {}}, "spaec", "unknown field"),
    ({"space": {"unary": ["x", "sigmoidd"]}}, "space.unary", "sigmoidd"),
    ({"space": {"units": 9}}, "space.units", "between"),
    ({**SMALL, "controller": {"kind": "genetic"}}, "controller.kind", "genetic"),
    ({**SMALL, "controller": {"kind": "evolution", "params": {"populaton": 8}}}, "controller.params.populaton",
     "no parameter"),
    ({**SMALL, "controller": {"kind": "evolution", "params": {"population": 10**9}}},
     "controller.params.population", "integer"),
    ({**SMALL, "task": {"name": "imagenet"}}, "task.name", "unknown task"),
    ({**SMALL, "task": {"seeds": 0}}, "task.seeds", "integer"),
    ({**SMALL, "task": {"steps": "many"}}, "task.steps", "integer"),
    ({**SMALL, "task": {"options": {"colour": 1}}}, "task.options", "bad options"),
    ({**SMALL, "task": {"precision": "fp16"}}, "task.precision", "one of fp32, bf16, got 'fp16'"),
    ({**SMALL, "budget": {"candidates": -1}}, "budget.candidates", "integer"),
    ({**SMALL, "budget": {"candidates": 10, "seconds": float("nan")}}, "budget.seconds", "number"),
    ({**SMALL, "budget": {"candidates": True}}, "budget.candidates", "integer"),
    ({**SMALL, "fidelity": {"rungs": [300, 100]}}, "fidelity.rungs", "increasing"),
    ({**SMALL, "confirm": {"tasks": ["mnist1d-mlp", "nope"]}}, "confirm.tasks[1]", "unknown task"),
    ({**SMALL, "name": ""}, "name", "non-empty"),
    ({**SMALL, "seed": -3}, "seed", "integer"),
    ({**SMALL, "rejection": {"signal_propagation": "yes"}}, "rejection.signal_propagation", "true or false"),
    ({**SMALL, "rejection": {"signal_propagaton": False}}, "rejection.signal_propagaton", "unknown field"),
    ({**SMALL, "rejection": {"min_loss_drop": 1.5}}, "rejection.min_loss_drop", "in [0, 1)"),
    ({**SMALL, "rejection": {"grad_norm_limit": float("inf")}}, "rejection.grad_norm_limit", "finite"),
    ({**SMALL, "rejection": {"loss_window": 2}}, "rejection.loss_window", "integer in [4"),
    ({**SMALL, "rejection": {"quality_fraction": 0}}, "rejection.quality_fraction", "(0, 1]"),
    ({**SMALL, "rejection": []}, "rejection", "object"),
    ([1, 2], "", "object"),
])
def test_bad_input_names_the_field(data, field, words):
    exc = error(data)
    assert exc.field == field
    assert words in str(exc)


def test_rl_refuses_a_tree_space_at_submission():
    exc = error({"space": {"form": "tree", "unary": ["x", "sin"], "binary": ["add"]},
                 "controller": {"kind": "rl"}})
    assert exc.field == "controller.kind" and "core space" in str(exc)


def test_rungs_give_the_fidelities():
    spec = JobSpec.from_json({**SMALL, "fidelity": {"rungs": [100, 300, 900], "eta": 3}})
    assert spec.rungs() == (100, 300, 900)
    assert JobSpec.from_json({**SMALL, "task": {"steps": 250}}).rungs() == (250,)
    assert JobSpec.from_json(SMALL).rungs() == (3000,)


def test_the_rejection_policy_defaults_on_and_matches_the_evaluators():
    from evaluator import RejectionPolicy

    spec = JobSpec.from_json(SMALL)
    assert spec.rejection.signal_propagation and spec.rejection.probe
    assert RejectionPolicy(**spec.rejection.to_json()) == RejectionPolicy()  # same fields, same defaults
    off = JobSpec.from_json({**SMALL, "rejection": {"signal_propagation": False, "quality_fraction": None}})
    assert not off.rejection.signal_propagation and off.rejection.quality_fraction is None
    assert off.to_json()["rejection"]["signal_propagation"] is False
    assert JobSpec.from_json(json.loads(json.dumps(off.to_json()))) == off
