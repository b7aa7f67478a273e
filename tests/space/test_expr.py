"""Expressions: immutable, hashable, totally ordered, JSON round trip, validated."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch

from space import Expr, ExprError, X, call, compile_function, const, param, parse


def test_equal_trees_are_equal_and_hash_alike() -> None:
    a = call("mul", X, call("sigmoid", X))
    b = parse("x * sigmoid(x)")
    assert a == b and hash(a) == hash(b)
    assert len({a, b, parse("sigmoid(x) * x")}) == 2


def test_immutable() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        X.op = "const"  # type: ignore[misc]


def test_total_order_is_deterministic() -> None:
    exprs = [parse(t) for t in ("sin(x)", "x", "x + 1", "beta * x", "2", "x * sigmoid(x)")]
    once = sorted(exprs)
    assert sorted(reversed(exprs)) == once
    assert all(not (e < e) for e in exprs)


def test_json_round_trip_through_text() -> None:
    for text in ("x", "2.5", "beta", "gauss_diff(x, sin(x), beta1)", "x^7 - 1", "beta_mix(x, relu(x))"):
        expr = parse(text)
        data = json.loads(json.dumps(expr.to_json()))
        assert Expr.from_json(data) == expr


@pytest.mark.parametrize(
    "data",
    [
        {"op": "nope", "args": ["x"]},
        {"op": "sin", "args": ["x", "x"]},
        {"op": "sin", "args": "x"},
        {"op": "sin", "args": ["x"], "extra": 1},
        {"param": "gamma"},
        True,
        None,
        "y",
        [1, 2],
        {"op": "powi", "args": ["x"], "value": 2.5},
        {"op": "powi", "args": ["x"], "value": 99},
        {"op": "powi", "args": ["x"], "value": -4},
        {"op": "gauss_diff", "args": [1.0, 2.0]},
        {"op": "x", "args": []},
        {"op": "beta_mul", "args": ["x"], "param": "alpha"},
        float("inf"),
        1e300,
    ],
)
def test_from_json_rejects_malformed_data(data: object) -> None:
    with pytest.raises(ExprError):
        Expr.from_json(data)


def test_constant_operands_fold() -> None:
    assert call("sin", const(0.0)) == const(0.0)
    assert call("add", const(1.0), const(2.0)) == const(3.0)
    assert call("mul", param("beta"), const(2.0)).op == "mul"  # parameters never fold
    with pytest.raises(ExprError):
        call("exp", const(1000.0))


@pytest.mark.parametrize("fused", [False, True])
def test_a_constant_gate_compiles(fused: bool) -> None:
    # the torch code of sigmoid_mul(2, x) called torch.sigmoid(2.0), which takes no float
    expr = parse("sigmoid_mul(2, x) + sigmoid_mul(x, 3)")
    assert expr.args[0].op == "sigmoid_mul"  # the tree keeps its operator (a space may lack mul)
    x = torch.linspace(-3.0, 3.0, 7)
    want = torch.sigmoid(torch.tensor(2.0)) * x + torch.sigmoid(x) * 3.0
    torch.testing.assert_close(compile_function(expr, fused=fused)(x), want)


def test_structure_queries() -> None:
    expr = parse("beta_mul(x, beta2) * sigmoid(beta * x) + beta_add(x)")
    assert expr.params() == ("beta2", "beta")
    # beta first appears as a written parameter (init 1), before beta_add (init 0) uses it
    assert expr.param_inits() == {"beta2": 1.0, "beta": 1.0}
    assert parse("beta_add(x) + beta").param_inits() == {"beta": 0.0}
    assert expr.operators() == ("add", "beta_add", "beta_mul", "mul", "sigmoid")
    assert expr.depends_on_x() and not parse("beta + 1").depends_on_x()
    assert parse("sin(sin(x))").depth == 3 and parse("sin(sin(x))").size == 3
    assert parse("x*sigmoid(x)").cost < parse("gelu(x)*erf(x)").cost
