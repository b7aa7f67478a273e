"""The contract every controller passes, shipped with the code so plug-ins run it too.

Modelled on Optuna's ``optuna/testing/pytest_samplers.py``: one behavioural suite, parametrized
over every registered controller (``tests/search/test_contract.py`` does
``@pytest.mark.parametrize("kind", sorted(CONTROLLERS))``), so a controller added later is
checked without anyone writing a test for it. Each ``check_*`` takes the controller ``kind``, a
small ``space`` and valid ``params`` for it:

* :func:`check_proposals_are_members` — proposals are valid members of the space;
* :func:`check_no_fingerprint_twice` — no function is proposed for evaluation twice;
* :func:`check_resume_in_process` / :func:`check_resume_in_subprocess` — ``state_dict`` survives
  JSON and the restored controller continues exactly as the original (the second one in a fresh
  interpreter with another hash seed: nothing may depend on ``hash()`` or set order);
* :func:`check_budget` — ``ask(n)`` returns at most ``n``; :func:`search.run_search` respects
  candidate and wall-time budgets with this controller;
* :func:`check_bad_params` — unknown or invalid parameters are a :class:`ControllerError`
  naming the parameter, never another exception, at construction or later.

A controller that cannot search a space (e.g. a fixed-slot encoding and a tree space) raises
:class:`ControllerError` when built; the checks then skip that space.

Fitness is fake and deterministic (:func:`fake_result`: a hash of the fingerprint, about one in
eight rejected), and results are told out of order with some left pending, as in a real job.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from search._base import Controller, ControllerError, Result
from search._loop import SearchBudget, run_search
from search._registry import controller_params, make_controller
from space import Expr, Space, fingerprint

SPACES: dict[str, Space] = {
    "core": Space(unary=("x", "neg", "abs", "sigmoid", "tanh", "sin", "relu", "beta_mul"),
                  binary=("add", "mul", "sub", "max", "min")),
    "core-2-units": Space(unary=("x", "neg", "sigmoid", "tanh", "exp"), binary=("add", "mul", "max"),
                          units=2, min_units=1),
    "tree": Space(form="tree", unary=("x", "neg", "sin", "sigmoid", "tanh", "beta"), binary=("add", "mul"),
                  constants=(1.0,), max_size=7, max_depth=4),
}


def _unit(key: str, salt: str = "") -> float:
    return int(hashlib.sha256((salt + key).encode()).hexdigest()[:12], 16) / 16**12


def fake_result(expr: Expr) -> Result:
    """A deterministic result: fitness from a hash of the fingerprint, ~1/8 rejected, and a
    reported cost on about half (the rest leave it to the controller)."""
    key = fingerprint(expr)
    fitness = None if _unit(key, "rejected") < 0.125 else _unit(key)
    cost = 1.0 + 9.0 * _unit(key, "cost") if _unit(key, "has-cost") < 0.5 else None
    return Result(expr, fitness, cost)


def build(kind: str, space: Space, params: dict[str, Any] | None = None, seed: int = 0) -> Controller:
    """``make_controller``, skipping the test when the controller refuses this space."""
    try:
        return make_controller(kind, space, seed=seed, params=params)
    except ControllerError as err:
        pytest.skip(f"{kind} does not search this space: {err}")


def drive(controller: Controller, pending: list[Expr], rounds: range, batch: int = 3) -> list[Expr]:
    """``ask(batch)`` then tell part of what is pending, out of order, per round; returns every
    proposal. Which results are told in round ``r`` depends only on ``r`` and the fingerprints,
    so a restored controller can be driven on identically. ``pending`` is updated in place."""
    proposed: list[Expr] = []
    for r in rounds:
        asked = controller.ask(batch)
        proposed += asked
        pending += asked
        ready = sorted((e for e in pending if _unit(fingerprint(e), f"round{r}") < 0.6),
                       key=lambda e: _unit(fingerprint(e), f"order{r}"))
        controller.tell([fake_result(e) for e in ready])
        pending[:] = [e for e in pending if e not in ready]
    return proposed


def _fingerprints(exprs: Sequence[Expr]) -> list[str]:
    return [fingerprint(e) for e in exprs]


# -- the checks


def check_proposals_are_members(kind: str, space: Space, params: dict[str, Any]) -> None:
    controller = build(kind, space, params)
    pending: list[Expr] = []
    for r in range(8):
        asked = drive(controller, pending, range(r, r + 1), batch=4)
        assert len(asked) <= 4 and all(isinstance(e, Expr) for e in asked)
    for key, data in controller.state_dict()["proposed"]:
        candidate = space.candidate_from_json(data)  # raises SpaceError for a non-member
        assert space.contains(candidate) and fingerprint(space.to_expr(candidate)) == key


def check_no_fingerprint_twice(kind: str, space: Space, params: dict[str, Any]) -> None:
    controller = build(kind, space, params)
    pending: list[Expr] = []
    proposed = drive(controller, pending, range(25), batch=4)
    seen = _fingerprints(proposed)
    assert len(seen) == len(set(seen)), "a function was proposed twice"
    controller.tell([fake_result(e) for e in proposed if e not in pending][:3])  # repeated: ignored
    assert controller.pending == len(pending)
    stranger = next(e for _, e in space.unique() if fingerprint(e) not in set(seen))
    with pytest.raises(ControllerError):
        controller.tell([Result(stranger, 0.5)])


def _continue(kind: str, space: Space, params: dict[str, Any], state: dict[str, Any],
              pending: list[Expr], start: int) -> list[str]:
    controller = make_controller(kind, space, seed=12345, params=params)  # the seed comes from state
    controller.load_state_dict(state)
    proposed = drive(controller, pending, range(start, start + 6))
    return _fingerprints(proposed) + [json.dumps(controller.state_dict(), sort_keys=True)]


def _split_run(kind: str, space: Space, params: dict[str, Any]) -> tuple[dict[str, Any], list[Expr], list[str]]:
    """Runs 6 rounds, snapshots (state as strict JSON, pending), runs 6 more."""
    controller = build(kind, space, params, seed=7)
    pending: list[Expr] = []
    drive(controller, pending, range(6))
    state = json.loads(json.dumps(controller.state_dict(), allow_nan=False))
    snapshot = list(pending)
    proposed = drive(controller, pending, range(6, 12))
    return state, snapshot, _fingerprints(proposed) + [json.dumps(controller.state_dict(), sort_keys=True)]


def check_resume_in_process(kind: str, space: Space, params: dict[str, Any]) -> None:
    state, pending, expected = _split_run(kind, space, params)
    assert _continue(kind, space, params, state, pending, 6) == expected


def check_resume_in_subprocess(kind: str, space: Space, params: dict[str, Any]) -> None:
    state, pending, expected = _split_run(kind, space, params)
    job = {"kind": kind, "space": space.to_json(), "params": params, "state": state,
           "pending": [e.to_json() for e in pending]}
    root = Path(__file__).resolve().parents[1]
    path = os.pathsep.join(p for p in (str(root), os.environ.get("PYTHONPATH")) if p)
    env = {**os.environ, "PYTHONHASHSEED": "4242", "PYTHONPATH": path}
    done = subprocess.run(
        [sys.executable, "-c", "import sys; from search.testing import _main; _main(sys.stdin.read())"],
        input=json.dumps(job), capture_output=True, text=True, env=env, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == expected


def _main(text: str) -> None:
    """The second process of :func:`check_resume_in_subprocess`."""
    job = json.loads(text)
    out = _continue(job["kind"], Space.from_json(job["space"]), job["params"], job["state"],
                    [Expr.from_json(e) for e in job["pending"]], 6)
    sys.stdout.write(json.dumps(out) + "\n")


def check_budget(kind: str, space: Space, params: dict[str, Any]) -> None:
    controller = build(kind, space, params)
    assert controller.ask(0) == []
    with pytest.raises(ControllerError):
        controller.ask(-1)
    assert len(controller.ask(2)) <= 2
    with ThreadPoolExecutor(3) as pool:
        def evaluate(expr: Expr) -> Future[Result]:
            return pool.submit(_slow_result, expr, 0.001 + 0.004 * _unit(fingerprint(expr), "sleep"))

        seen: list[Expr] = []
        controller = build(kind, space, params)
        summary = run_search(space, controller, evaluate, SearchBudget(candidates=9, in_flight=3),
                             lambda e, r: seen.append(e))
        assert summary.candidates == summary.evaluations == len(seen) <= 9
        assert summary.stop == "candidates" if len(seen) == 9 else summary.stop == "exhausted"
        assert controller.pending == 0

        controller = build(kind, space, params)
        began = time.monotonic()
        summary = run_search(space, controller, lambda e: pool.submit(_slow_result, e, 0.05),
                             SearchBudget(candidates=10**6, seconds=0.3, in_flight=2))
        assert time.monotonic() - began < 0.3 + 1.0  # running ones finish; nothing new starts
        assert summary.stop in ("seconds", "exhausted") and summary.candidates < 10**6


def _slow_result(expr: Expr, seconds: float) -> Result:
    time.sleep(seconds)
    return fake_result(expr)


# 10**9 must be refused or cheap: a typo in a JobSpec must not allocate 256 GB or hang
BAD_VALUES: tuple[Any, ...] = ("nope", -1, 0, None, 10**9, float("nan"))


def check_bad_params(kind: str, space: Space, params: dict[str, Any]) -> None:
    with pytest.raises(ControllerError, match="no_such_param"):
        make_controller(kind, space, params={**params, "no_such_param": 1})
    for name in controller_params(kind):
        for value in BAD_VALUES:
            try:
                controller = make_controller(kind, space, params={**params, name: value})
            except ControllerError as err:
                assert name in str(err), f"the error for {name}={value!r} does not name it: {err}"
                continue
            drive(controller, [], range(4))  # accepted: then it must work
