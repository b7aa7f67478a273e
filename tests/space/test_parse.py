"""The parser: ordinary math in, normalized expressions out, clear errors, no code execution."""

from __future__ import annotations

import pytest

from space import MAX_EXPONENT, MAX_LENGTH, Expr, ParseError, X, call, const, param, parse


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("x", X),
        ("x * sigmoid(beta * x)", call("mul", X, call("sigmoid", call("mul", param("beta"), X)))),
        ("x*sigmoid(x*beta1)", call("mul", X, call("sigmoid", call("mul", X, param("beta1"))))),
        ("-x", call("neg", X)),
        ("--x", X),
        ("+x", X),
        ("x^2", call("square", X)),
        ("x**3", call("cube", X)),
        ("x^5", call("powi", X, exponent=5)),
        ("x^-1", call("div", const(1), X)),
        ("x^(-2)", call("div", const(1), call("square", X))),
        ("x^0", const(1)),
        ("-x^2", call("neg", call("square", X))),
        ("2^3", const(8)),
        ("1 - 2 - x", call("sub", const(-1), X)),
        ("x - 1 - 2", call("sub", call("sub", X, const(1)), const(2))),
        ("x / 2 / 4", call("div", call("div", X, const(2)), const(4))),
        ("sqrt(4)", const(2)),
        ("pi * x", call("mul", const(3.141592653589793), X)),
        ("1.5e-3*x", call("mul", const(0.0015), X)),
        (".5 * x", call("mul", const(0.5), X)),
        ("max(x, 0)", call("relu", X)),
        ("max(0, x)", call("relu", X)),
        ("min(x, 0)", call("min0", X)),
        ("max(x, sin(x))", call("max", X, call("sin", X))),
        ("log(1 + exp(x))", call("softplus", X)),
        ("ln(exp(x) + 1)", call("softplus", X)),
        ("log(x)", call("log_abs", X)),
        ("1/(1+exp(-x))", call("sigmoid", X)),
        ("x/(1+exp(-x))", call("mul", X, call("sigmoid", X))),
        ("exp(-x^2)", call("gauss", X)),
        ("sin(x)/x", call("sinc", X)),
        ("x(sin(x))", call("sin", X)),
        ("beta(x)", param("beta")),
        ("beta_mul(x)", call("beta_mul", X, param="beta")),
        ("beta_mul(x, beta2)", call("beta_mul", X, param="beta2")),
        ("gauss_diff(x, tanh(x), beta1)", call("gauss_diff", X, call("tanh", X), param="beta1")),
        ("  x  +  1 ", call("add", X, const(1))),
    ],
)
def test_parses_ordinary_math(text: str, expected: Expr) -> None:
    assert parse(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "x * sigmoid(beta * x)",
        "x + sin(x)^2",
        "min(x, sin(x))",
        "atan(x)^2 - x",
        "(x - 1) * (x + 1) / (x - 2)",
        "x - (x - 1)",
        "x / (x / 2)",
        "-(x + 1)",
        "(-x)^2",
        "(x + 1)^5 * -2",
        "beta_mix(x, tanh(x), beta3) + beta_add(x)",
        "0.1 * x + 1e-05 * x^3",
        "1 - x",
        "sinc(x) + x",
        "x * asinh(x)^2",
    ],
)
def test_text_form_round_trips(text: str) -> None:
    expr = parse(text)
    assert parse(str(expr)) == expr
    assert Expr.from_json(expr.to_json()) == expr


@pytest.mark.parametrize(
    ("text", "column", "fragment"),
    [
        ("x +", 4, "expected a number"),
        ("x * (1 + x", 11, "expected ')'"),
        ("x x", 3, "expected an operator"),
        ("sin(x", 6, "closing sin("),
        ("foo(x)", 1, "unknown function 'foo'"),
        ("y + 1", 1, "unknown name 'y'"),
        ("x $ 2", 3, "unexpected character '$'"),
        ("sin(x, x)", 1, "sin takes 1 argument"),
        ("max(x)", 1, "max takes 2 argument"),
        ("x ^ 0.5", 5, "integer exponent"),
        ("x ^ y", 5, "integer exponent"),
        ("beta_mul(x, 2)", 1, "must be a parameter name"),
        ("", 1, "empty expression"),
        ("1e400", 1, "not finite"),
        ("exp(1000)", 1, "evaluates to"),
        ("x * 1e7", 5, "exceeds"),
        ("powi(x)", 1, "unknown function 'powi'"),
    ],
)
def test_errors_say_where_and_what(text: str, column: int, fragment: str) -> None:
    with pytest.raises(ParseError) as info:
        parse(text)
    assert fragment in str(info.value)
    assert info.value.position + 1 == column


@pytest.mark.parametrize(
    "text",
    [
        "__import__('os')",
        "__import__('os').system('echo pwned')",
        "eval('1')",
        "exec('import os')",
        "x.__class__",
        "x.real",
        "(lambda: 1)()",
        "[x for x in ()]",
        "sympify('x')",
        "getattr(x, 'real')",
        "x; import os",
        "open('/etc/passwd')",
        "x if x else x",
        "'x'",
        "x\\n",
    ],
)
def test_hostile_input_is_rejected_without_running_anything(text: str) -> None:
    with pytest.raises(ParseError):
        parse(text)


def test_huge_exponent_is_rejected_before_any_arithmetic() -> None:
    with pytest.raises(ParseError, match="too large"):
        parse("x**99999999")
    with pytest.raises(ParseError, match="too large"):
        parse("x^" + "9" * 900)
    parse(f"x^{MAX_EXPONENT}")


def test_length_limit() -> None:
    with pytest.raises(ParseError, match="characters long"):
        parse("x" + "+x" * 1_000_000)  # 2 MB
    terms = ["sin(x)"] * 64
    while len(terms) > 1:  # a balanced sum: long text, shallow tree
        terms = [f"({a} + {b})" for a, b in zip(terms[::2], terms[1::2], strict=True)]
    assert len(terms[0]) <= MAX_LENGTH
    assert parse(terms[0]).size == 64 * 2 + 63


def test_depth_limit() -> None:
    with pytest.raises(ParseError, match="deep|nesting"):
        parse("(" * 200 + "x" + ")" * 200)
    with pytest.raises(ParseError, match="deep|nesting"):
        parse("sin(" * 100 + "x" + ")" * 100)
    with pytest.raises(ParseError, match="deep|nesting"):
        parse("-" * 500 + "x")
    assert parse("sin(" * 10 + "x" + ")" * 10).depth == 11


def test_error_pointer_marks_the_column() -> None:
    with pytest.raises(ParseError) as info:
        parse("x + foo(x)")
    lines = info.value.pointer().splitlines()
    assert lines[1].index("^") == 4


def test_non_text_is_an_error() -> None:
    with pytest.raises(ParseError):
        parse(42)  # type: ignore[arg-type]
