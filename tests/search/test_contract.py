"""Every registered controller — built in or added later — passes the shared contract suite."""

from __future__ import annotations

from typing import Any

import pytest

import search.controllers  # noqa: F401  (registers the built-in controllers)
from search import CONTROLLERS
from search.testing import (
    SPACES,
    check_bad_params,
    check_budget,
    check_no_fingerprint_twice,
    check_proposals_are_members,
    check_resume_in_process,
    check_resume_in_subprocess,
)

# Valid parameters for the small contract spaces where the defaults would not exercise the
# controller (a population of 32 would stay in its random phase for the whole short run).
PARAMS: dict[str, dict[str, Any]] = {
    "evolution": {"population": 6, "tournament": 3},
}
KINDS = sorted(CONTROLLERS)


def params_for(kind: str) -> dict[str, Any]:
    return PARAMS.get(kind, {})


@pytest.mark.parametrize("space", sorted(SPACES))
@pytest.mark.parametrize("check", [check_proposals_are_members, check_no_fingerprint_twice,
                                   check_resume_in_process, check_budget],
                         ids=lambda f: f.__name__.removeprefix("check_"))
@pytest.mark.parametrize("kind", KINDS)
def test_contract(kind: str, check: Any, space: str) -> None:
    check(kind, SPACES[space], params_for(kind))


@pytest.mark.parametrize("kind", KINDS)
def test_resume_in_a_second_process(kind: str) -> None:
    check_resume_in_subprocess(kind, SPACES["core-2-units"], params_for(kind))


@pytest.mark.parametrize("kind", KINDS)
def test_bad_params(kind: str) -> None:
    check_bad_params(kind, SPACES["core"], params_for(kind))


def test_evolution_multi_objective_passes_too() -> None:
    params = {"population": 5, "tournament": 3, "multi_objective": True}
    for space in SPACES.values():
        check_resume_in_process("evolution", space, params)
        check_no_fingerprint_twice("evolution", space, params)
    check_resume_in_subprocess("evolution", SPACES["core"], params)
