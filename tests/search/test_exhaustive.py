"""Exhaustive enumeration: Space.unique() order, nothing else, an exact resume, small spaces only."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest

from search import ControllerError, Exhaustive, Result, SearchBudget, make_controller, run_search
from space import Space, fingerprint

SMALL = Space(unary=("x", "neg", "abs", "sigmoid", "sin", "beta_mul"), binary=("add", "mul", "max"))


def test_proposes_every_function_once_in_unique_order_then_nothing() -> None:
    unique = [e for _, e in SMALL.unique()]
    ctrl = make_controller("exhaustive", SMALL)
    got = []
    while batch := ctrl.ask(7):
        got += batch
        ctrl.tell([Result(e, 0.0) for e in batch])
    assert got == unique and len(unique) < SMALL.count()
    assert ctrl.ask(3) == [] and ctrl.ask(0) == []


def test_resumes_exactly_from_its_position() -> None:
    unique = [e for _, e in SMALL.unique()]
    ctrl = Exhaustive(SMALL)
    first = ctrl.ask(11)
    ctrl.tell([Result(e, 1.0) for e in first[:5]])  # the rest still pending at the crash
    state = json.loads(json.dumps(ctrl.state_dict()))
    assert state["own"] == {"read": next(i for i, c in enumerate(SMALL.enumerate())
                                         if fingerprint(SMALL.to_expr(c)) == fingerprint(first[-1])) + 1}
    again = Exhaustive(SMALL)
    again.load_state_dict(state)
    assert first + again.ask(10**6) == unique
    assert again.pending == len(unique) - 5


def test_the_search_loop_stops_when_the_space_is_exhausted() -> None:
    with ThreadPoolExecutor(4) as pool:
        summary = run_search(SMALL, Exhaustive(SMALL), lambda e: pool.submit(Result, e, float(e.size)),
                             SearchBudget(candidates=1000, in_flight=4))
    assert summary.stop == "exhausted" and summary.candidates == len(list(SMALL.unique()))


def test_refuses_a_space_too_large_to_enumerate() -> None:
    with pytest.raises(ControllerError, match="small space"):
        make_controller("exhaustive", Space(units=2))
