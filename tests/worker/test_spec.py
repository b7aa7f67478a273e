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
    # no task named: the depth-aware default fitness, a hurdle in front
    assert [(t.name, t.hurdle) for t in spec.scored_tasks] == [("mnist1d-deep-mlp", -0.25), ("mnist1d-resmlp", None)]
    assert spec.aggregate == "min" and spec.baselines == ["relu(x)", "x*sigmoid(x)"]
    assert JobSpec.from_json({**SMALL, "aggregate": "mean"}).aggregate == "mean"
    one = JobSpec.from_json({**SMALL, "task": {"name": "digits-cnn"}})  # a named task replaces the default
    assert [t.name for t in one.scored_tasks] == ["digits-cnn"] and "tasks" not in one.to_json()
    assert spec.controller.kind == "evolution" and spec.primary.seeds == 1
    assert spec.confirm.top_k == 5 and spec.confirm.seeds == 3 and spec.seed == 0
    stored = json.loads(json.dumps(spec.to_json()))
    assert JobSpec.from_json(stored) == spec


def test_the_design_example_is_valid():
    # DESIGN.md's JobSpec, as the API documents it (the example of POST /jobs in OpenAPI)
    from worker.spec import EXAMPLE_SPEC

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
    ({**SMALL, "task": {"precision": "fp16"}}, "task.precision", "must be 'fp32' or 'bf16', got 'fp16'"),
    ({**SMALL, "budget": {"candidates": -1}}, "budget.candidates", "integer"),
    ({**SMALL, "budget": {"candidates": 10, "seconds": float("nan")}}, "budget.seconds", "finite number"),
    ({**SMALL, "budget": {"candidates": True}}, "budget.candidates", "integer"),
    ({**SMALL, "fidelity": {"rungs": [300, 100]}}, "fidelity.rungs", "increasing"),
    ({**SMALL, "confirm": {"tasks": ["mnist1d-mlp", "nope"]}}, "confirm.tasks[1]", "unknown task"),
    ({**SMALL, "name": ""}, "name", "at least 1 character"),
    ({**SMALL, "seed": -3}, "seed", "integer"),
    ({**SMALL, "rejection": {"signal_propagation": "yes"}}, "rejection.signal_propagation", "valid boolean, got 'yes'"),
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
    assert JobSpec.from_json(SMALL).rungs() == (1000,)  # the default fitness's first task, mnist1d-deep-mlp


def test_the_rejection_policy_defaults_on_and_matches_the_evaluators():
    from evaluator import RejectionPolicy

    spec = JobSpec.from_json(SMALL)
    assert spec.rejection.signal_propagation and spec.rejection.probe
    assert RejectionPolicy(**spec.rejection.to_json()) == RejectionPolicy()  # same fields, same defaults
    off = JobSpec.from_json({**SMALL, "rejection": {"signal_propagation": False, "quality_fraction": None}})
    assert not off.rejection.signal_propagation and off.rejection.quality_fraction is None
    assert off.to_json()["rejection"]["signal_propagation"] is False
    assert JobSpec.from_json(json.loads(json.dumps(off.to_json()))) == off


def test_every_problem_is_reported_at_once_each_with_its_field():
    exc = error({"space": {"unary": ["x", "sigmoidd"], "units": 9}, "budget": {"candidates": 0},
                 "controller": {"kind": "evolution", "params": {"population": 10**9}},
                 "task": {"seeds": 0, "precision": "fp16"}, "seed": -1, "colour": "red"})
    fields = [field for field, _ in exc.problems]
    assert sorted(fields) == sorted(["colour", "space.unary", "budget.candidates", "task.seeds", "task.precision",
                                     "seed"]), exc.problems
    # the controller is checked against a valid space only; with the space fixed it is reported too
    exc = error({"budget": {"candidates": 0}, "controller": {"kind": "evolution", "params": {"population": 10**9}}})
    assert [field for field, _ in exc.problems] == ["budget.candidates", "controller.params.population"]
    assert str(exc).count(": ") >= 2 and exc.field == "budget.candidates"


MULTI = {**{k: v for k, v in SMALL.items()},
         "tasks": [{"name": "mnist1d-mlp", "steps": 100, "hurdle": -0.1}, {"name": "digits-cnn", "weight": 2}]}


def test_a_multi_task_spec_round_trips_and_scales_rungs_per_task():
    spec = JobSpec.from_json({**MULTI, "aggregate": "min", "fidelity": {"rungs": [25, 100]}})
    assert [t.name for t in spec.scored_tasks] == ["mnist1d-mlp", "digits-cnn"] and spec.primary.steps == 100
    stored = json.loads(json.dumps(spec.to_json()))
    assert "task" not in stored and stored["aggregate"] == "min" and stored["tasks"][1]["weight"] == 2
    assert JobSpec.from_json(stored) == spec
    digits = spec.scored_tasks[1]
    full = digits.default_steps()
    assert spec.rungs() == (25, 100)
    assert spec.steps_of(spec.primary, 25) == 25 and spec.steps_of(digits, 100) == full
    assert spec.steps_of(digits, 25) == round(full / 4)
    single = JobSpec.from_json({**SMALL, "task": {"name": "mnist1d-mlp"}}).to_json()
    assert "tasks" not in single and "aggregate" not in single and single["baselines"] == ["relu(x)", "x*sigmoid(x)"]


@pytest.mark.parametrize(("change", "field", "words"), [
    ({"task": {"name": "mnist1d-mlp"}}, "tasks", "either task"),
    ({"tasks": []}, "tasks", "at least one"),
    ({"tasks": [{"name": "digits-cnn"}, {"name": "digits-cnn"}]}, "tasks[1].name", "listed twice"),
    ({"tasks": [{"name": "mnist1d-mlp"}, {"name": "digits-cnn", "hurdle": 0.0}]}, "tasks[1].hurdle", "last task"),
    ({"tasks": [{"name": "mnist1d-mlp"}, {"name": "digits-cnn", "weight": 0}]}, "tasks[1].weight", "in (0, 1000], got 0"),
    ({"tasks": [{"name": "mnist1d-mlp"}, {"name": "nope"}]}, "tasks[1].name", "unknown task"),
    ({"tasks": [{"name": "mnist1d-mlp", "colour": 1}]}, "tasks[0].colour", "unknown field"),
    ({"aggregate": "median"}, "aggregate", "'mean' or 'min'"),
    ({"baselines": []}, "baselines", "relative to the baselines"),
    ({"baselines": ["relu(x)", "max(x, 0)"]}, "baselines[1]", "same function"),
    ({"baselines": ["relu(x"]}, "baselines[0]", "column"),
    ({"fidelity": {"rungs": [30, 90]}}, "fidelity.rungs", "first task's steps (100)"),
])
def test_multi_task_mistakes_name_the_field(change, field, words):
    exc = error({**MULTI, **change})
    assert any(f == field and words in m for f, m in exc.problems), exc.problems


def test_a_hurdle_needs_several_tasks():
    exc = error({**SMALL, "task": {"hurdle": 0.5}})
    assert exc.problems == [("task.hurdle", "a hurdle holds back later tasks: list several in tasks")]


def test_the_openapi_schema_is_the_model_and_the_api_process_needs_no_torch():
    import subprocess
    import sys

    code = ("import sys, json; from worker.spec import JobSpec, openapi_schema; s = openapi_schema(); "
            "assert {'tasks', 'aggregate', 'baselines', 'rejection'} <= set(s['properties']), s['properties'].keys(); "
            "assert s['additionalProperties'] is False; "
            "print(json.dumps(['torch' in sys.modules, 'ray' in sys.modules]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[false, false]"
