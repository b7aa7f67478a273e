"""Properties: numerically measured shape of known functions, and robustness to poles and NaN."""

from __future__ import annotations

import json

import pytest

from space import parse
from space._known import KNOWN, KnownFunction
from space._properties import Properties, properties


def props(text: str) -> Properties:
    return properties(parse(text))


def test_relu() -> None:
    p = props("max(x, 0)")
    assert p.monotonic == "increasing"
    assert p.bounded_below is True and p.bounded_above is False
    assert p.smooth is False
    assert p.f0 == 0.0 and p.df0 is None  # a kink at 0 has no derivative
    assert p.asymptote_pos == "linear" and p.asymptote_neg == "zero"
    assert p.finite


def test_silu() -> None:
    p = props("x*sigmoid(x)")
    assert p.monotonic == "no"
    assert p.bounded_below is True and p.bounded_above is False
    assert p.smooth is True
    assert p.f0 == 0.0
    assert p.df0 == pytest.approx(0.5, abs=1e-7)
    assert (p.asymptote_pos, p.asymptote_neg) == ("linear", "zero")


def test_tanh_saturates_both_ways() -> None:
    p = props("tanh(x)")
    assert p.monotonic == "increasing"
    assert p.bounded_below is True and p.bounded_above is True
    assert (p.asymptote_pos, p.asymptote_neg) == ("constant", "constant")
    assert p.df0 == pytest.approx(1.0, abs=1e-7)


def test_sin_oscillates_and_is_bounded() -> None:
    p = props("sin(x)")
    assert (p.asymptote_pos, p.asymptote_neg) == ("oscillating", "oscillating")
    assert p.bounded_below is True and p.bounded_above is True
    assert p.monotonic == "no" and p.smooth


def test_growing_oscillation_is_unbounded() -> None:
    p = props("x*cos(x)")
    assert p.asymptote_pos == "oscillating"
    assert p.bounded_below is False and p.bounded_above is False


def test_cube_is_superlinear() -> None:
    p = props("x^3")
    assert (p.asymptote_pos, p.asymptote_neg) == ("superlinear", "superlinear")
    assert p.monotonic == "increasing" and p.smooth
    assert p.df0 == pytest.approx(0.0, abs=1e-8)


def test_exp_overflows_upward_and_vanishes_downward() -> None:
    p = props("exp(x)")
    assert (p.asymptote_pos, p.asymptote_neg) == ("superlinear", "zero")
    assert p.monotonic == "increasing"
    assert p.bounded_below is True and p.bounded_above is False
    assert p.f0 == 1.0 and p.df0 == pytest.approx(1.0, abs=1e-7)
    assert not p.finite  # exp(1e4) overflows in float64


@pytest.mark.parametrize(
    ("text", "pos", "neg"),
    [
        ("log(1 + x^2)", "sublinear", "sublinear"),
        ("sqrt(x)", "sublinear", "sublinear"),
        ("softsign(x)", "constant", "constant"),
        ("sinc(x)", "zero", "zero"),
        ("x + sin(x)^2", "linear", "linear"),
        ("elu(x)", "linear", "constant"),
        ("min(x, sin(x))", "oscillating", "linear"),
        ("exp(-x^2)", "zero", "zero"),
    ],
)
def test_asymptotes(text: str, pos: str, neg: str) -> None:
    p = props(text)
    assert (p.asymptote_pos, p.asymptote_neg) == (pos, neg)


@pytest.mark.parametrize(
    ("text", "smooth"),
    [
        ("abs(x)", False),
        ("hardswish(x)", False),  # kinks at -3 and 3
        ("min(max(x, 0), 6)", False),  # kinks at 0 and 6
        ("max(x, sigmoid(x))", False),  # a kink where x = sigmoid(x), off any grid point
        ("selu(x)", False),
        ("elu(x)", True),  # alpha = 1: the slopes meet at 0
        ("max(x, 0)^2", True),  # C1, not C2
        ("gelu(x)", True),
        ("x^8", True),
        ("softplus(10*x)", True),
    ],
)
def test_smoothness(text: str, smooth: bool) -> None:
    assert props(text).smooth is smooth


def test_pole_is_reported_without_exceptions() -> None:
    p = props("1/x")
    assert p.f0 is None and p.df0 is None
    assert p.smooth is False and p.finite is False
    assert p.monotonic == "no"
    assert p.bounded_above is False
    assert (p.asymptote_pos, p.asymptote_neg) == ("zero", "zero")


def test_nan_everywhere_is_undefined() -> None:
    p = props("(x - x)/(x - x)")  # 0/0 everywhere
    assert p.asymptote_pos == "undefined"
    assert p.f0 is None
    assert p.bounded_above is None and p.bounded_below is None


def test_parameters_take_their_initial_values() -> None:
    assert props("x*sigmoid(beta*x)") == props("x*sigmoid(x)")


def test_constant() -> None:
    p = props("3")
    assert p.monotonic == "constant"
    assert p.f0 == 3.0 and p.df0 == 0.0


def test_to_json_holds_only_json_types_and_is_deterministic() -> None:
    p = props("1/x")
    data = json.loads(json.dumps(p.to_json(), allow_nan=False))
    assert data["f0"] is None and data["bounded_above"] is False
    assert props("1/x") == p


@pytest.mark.parametrize("fn", KNOWN, ids=lambda f: f.name)
def test_every_known_function_has_json_properties(fn: KnownFunction) -> None:
    p = properties(fn.expr)
    json.dumps(p.to_json(), allow_nan=False)
