"""Known functions: every entry is well formed, and identify() names what a candidate equals."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from space import _known, fingerprint, parse
from space._known import KNOWN, KnownFunction, identify, identify_all, known_by_name


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("max(x, 0)", "ReLU"),
        ("(x + abs(x))/2", "ReLU"),
        ("x/(1 + exp(-x))", "SiLU"),
        ("x*sigmoid(x)", "SiLU"),
        ("0.5*x*(1 + erf(x/sqrt(2)))", "GELU"),
        ("x*tanh(log(1 + exp(x)))", "Mish"),
        ("x + sin(x)^2", "Snake"),
        ("x + (1 - cos(2*x))/2", "Snake"),
        ("max(x, 0.01*x)", "LeakyReLU"),
        ("max(x, 0) + min(0, exp(x) - 1)", "ELU"),
        ("2*sigmoid(2*x) - 1", "Tanh"),
        ("min(max(x, 0), 6)", "ReLU6"),
        ("x*tanh(x)", "LiSHT"),
        ("x*erf(log(1 + exp(x)))", "Serf"),
    ],
)
def test_identify_exact(text: str, name: str) -> None:
    match = identify(parse(text))
    assert match is not None
    assert match.function.name == name
    assert match.exact and match.params == {}


@pytest.mark.parametrize(
    ("text", "name", "params"),
    [
        ("x*sigmoid(2*x)", "Swish", {"beta": 2.0}),
        ("x*sigmoid(2.7*x)", "Swish", {"beta": 2.7}),
        ("x + sin(3.3*x)^2/3.3", "Snake (a)", {"beta": 3.3}),
        ("max(x, 0.2*x)", "PReLU", {"beta": 0.2}),
        ("2*x*sigmoid(x)", "E-swish", {"beta": 2.0}),
        ("(x + 0.7*sin(2.3*x))*sigmoid(x)", "SinLU", {"beta1": 0.7, "beta2": 2.3}),
        ("x*erf(exp(x))", "ErfAct", {"beta1": 1.0, "beta2": 1.0}),
        ("3*sigmoid(0.5*x) - 1.2", "Tempered sigmoid", {"beta1": 3.0, "beta2": 0.5, "beta3": 1.2}),
        ("x*(0.5*exp(-1.3*x) + 1)^(-2)", "AGLU", {"beta1": 1.3, "beta2": 0.5}),
        ("max(x, 0) + 0.01*x*exp(-x^2/2)", "CRReLU", {"beta": 0.01}),
    ],
)
def test_identify_with_free_parameters(text: str, name: str, params: dict[str, float]) -> None:
    match = identify(parse(text))
    assert match is not None
    assert match.function.name == name
    assert not match.exact
    assert match.params == pytest.approx(params, rel=1e-8)


def test_parametric_candidate_matches_its_family() -> None:
    match = identify(parse("x*sigmoid(beta*x)"))
    assert match is not None and match.function.name == "Swish"


def test_exact_match_is_preferred_and_alternatives_carry_fitted_beta() -> None:
    matches = identify_all(parse("x*sigmoid(x)"))
    assert matches[0].function.name == "SiLU" and matches[0].exact
    swish = next(m for m in matches if m.function.name == "Swish")
    assert swish.params["beta"] == pytest.approx(1.0, rel=1e-9)


@pytest.mark.parametrize(
    "text",
    [
        "x*sigmoid(x) + 0.001*x",
        "sin(x) + x^2",
        "x*sigmoid(1.0001*x) + 1e-3",
        "x^4",
        "x + 1",
        "max(x, 0.5*sin(x))",
        "3",
    ],
)
def test_near_misses_are_not_identified(text: str) -> None:
    assert identify(parse(text)) is None


def test_at_least_45_entries_each_with_a_paper() -> None:
    assert len(KNOWN) >= 45
    for fn in KNOWN:
        assert fn.paper and fn.authors and 1950 < fn.year < 2030, fn.name


def test_required_functions_are_present() -> None:
    for name in [
        "ReLU",
        "LeakyReLU",
        "PReLU",
        "ELU",
        "SELU",
        "CELU",
        "GELU",
        "GELU (tanh approximation)",
        "SiLU",
        "Swish",
        "Mish",
        "Softplus",
        "Softsign",
        "Tanh",
        "Sigmoid",
        "Hard sigmoid",
        "Hard swish",
        "ReLU6",
        "Snake",
        "Snake (a)",
        "Sinc",
        "Gaussian",
        "Tempered sigmoid",
        "Squared ReLU",
        "Identity",
        "Absolute value",
        "Cube",
        "PolyReLU (order 3)",
        "Cauchy activation",
        "AGLU",
        "CRReLU",
        "max(x, sigmoid(x))",
        "LiSHT",
        "Bent identity",
        "ISRU",
        "E-swish",
        "TanhExp",
        "Logish",
        "Smish",
        "Serf",
        "GCU",
        "Phish",
    ]:
        assert known_by_name(name).name == name


def test_names_and_aliases_are_unique() -> None:
    names = Counter(n.casefold() for fn in KNOWN for n in (fn.name, *fn.aliases))
    assert [n for n, c in names.items() if c > 1] == []


def test_known_by_name_accepts_aliases_and_rejects_unknown() -> None:
    assert known_by_name("swish-1").name == "SiLU"
    assert known_by_name("CELU (alpha=1)").name == "ELU"
    with pytest.raises(KeyError):
        known_by_name("NoSuchUnit")


@pytest.mark.parametrize("fn", KNOWN, ids=lambda f: f.name)
def test_every_entry_identifies_back_to_itself(fn: KnownFunction) -> None:
    assert parse(fn.formula) == fn.expr
    match = identify(fn.expr)
    assert match is not None
    assert match.function is fn
    assert match.exact == (not fn.parametric)


def test_no_two_entries_share_a_fingerprint() -> None:
    prints = Counter(fingerprint(fn.expr) for fn in KNOWN)
    assert [fn.name for fn in KNOWN if prints[fingerprint(fn.expr)] > 1] == []


def test_parametric_flag_follows_the_formula() -> None:
    assert known_by_name("Swish").parametric
    assert not known_by_name("SiLU").parametric
    assert known_by_name("Cauchy activation").expr.params() == ("beta1", "beta2", "beta3")


def test_to_json_is_plain_json() -> None:
    data = json.loads(json.dumps(known_by_name("Swish").to_json()))
    assert data["name"] == "Swish"
    assert data["parametric"] is True
    assert data["year"] == 2017
    assert data["params"] == ["beta"]
    assert "sigmoid" in data["formula"] and data["canonical"]
    match = identify(parse("x*sigmoid(2*x)"))
    assert match is not None
    assert json.loads(json.dumps(match.to_json()))["params"] == {"beta": 2.0}


def test_an_exact_hit_is_a_lookup_without_fitting(monkeypatch: pytest.MonkeyPatch) -> None:
    # What makes it cheap enough for every candidate: no parameter fit, no table rebuilt (its
    # speed is a property of these two, not a timed assertion that a loaded machine breaks).
    identify(parse("x*sigmoid(x)"))  # builds the table
    built = _known._exact_table.cache_info().misses

    def no_fit(*_: object) -> None:
        raise AssertionError("an exact hit fitted parameters")

    monkeypatch.setattr(_known, "_fit", no_fit)
    match = identify(parse("tanh(softplus(x))*x"))  # Mish, written so that no cache knows it yet
    assert match is not None and match.function.name == "Mish" and match.exact
    assert _known._exact_table.cache_info().misses == built
