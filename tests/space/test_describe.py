"""space.describe: one description for ``actsearch parse``, the parse endpoint and the runner."""

from __future__ import annotations

import pytest

import space
from space import canonical_text, describe, fingerprint, parse, properties


def test_a_description_says_everything_in_the_order_parse_prints_it() -> None:
    expr = parse("x*sigmoid(beta*x)")
    info = describe(expr)
    assert list(info) == ["expression", "canonical", "latex", "known_as", "known", "fingerprint", "operators",
                          "parameters", "cost", "size", "properties"]
    assert info["known_as"] == "Swish" and info["canonical"] == canonical_text(expr)
    assert info["fingerprint"] == fingerprint(expr) and info["properties"] == properties(expr).to_json()


def test_without_fitting_only_exact_matches_are_named() -> None:
    assert describe(parse("x*sigmoid(2*x)"), fit_known=False)["known_as"] is None
    assert describe(parse("x*sigmoid(x)"), fit_known=False)["known_as"] == "SiLU"


def test_best_effort_falls_back_where_sympy_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(expr: object) -> str:
        raise ValueError("a sympy corner case")

    monkeypatch.setattr(space._describe, "canonical_text", broken)
    expr = parse("max(x, sin(x))")
    assert describe(expr, best_effort=True)["canonical"] == str(expr)
    with pytest.raises(ValueError):
        describe(expr)


def test_a_time_limit_is_never_swallowed(monkeypatch: pytest.MonkeyPatch) -> None:
    def slow(expr: object) -> str:
        raise TimeoutError

    monkeypatch.setattr(space._describe, "canonical_text", slow)
    with pytest.raises(TimeoutError):
        describe(parse("x"), best_effort=True)
