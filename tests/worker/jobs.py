"""Helpers for runner tests: small specs, fake (picklable) evaluators, and store queries."""

from __future__ import annotations

import collections
import hashlib
import os
import time
from collections.abc import Callable, Sequence
from typing import Any

import store
from worker import EvalOutcome, EvalRequest
from worker.spec import JobSpec

SMALL_SPACE = {"unary": ["x", "neg", "sigmoid", "tanh", "sin", "relu"], "binary": ["add", "mul", "max"]}


def spec(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "test", "space": SMALL_SPACE, "controller": {"kind": "random"},
        "task": {"name": "mnist1d-mlp", "seeds": 1, "steps": 30},
        "budget": {"candidates": 8}, "confirm": {"top_k": 2, "seeds": 2}, "seed": 1,
        "baselines": [],  # the runner's mechanics; tests/worker/test_scoring.py has jobs with baselines
    }
    data.update(changes)
    if "tasks" in changes:  # several tasks replace the one
        del data["task"]
    return JobSpec.from_json(data).to_json()


def submit(database: store.Database, data: dict[str, Any], owner: str = "alice") -> int:
    with database.session() as session:
        return store.create_job(session=session, name=data["name"], owner=owner, spec=data).id


def hashed_fitness(expression: str, seed: int) -> float:
    digest = hashlib.sha256(f"{expression}/{seed}".encode()).hexdigest()
    return int(digest[:8], 16) / 16**8


def fake_batch(requests: Sequence[EvalRequest]) -> list[EvalOutcome]:
    """A deterministic stand-in for training: fitness from a hash, after a short pause so a
    job lasts long enough to be interrupted (``FAKE_EVAL_SECONDS``)."""
    time.sleep(float(os.environ.get("FAKE_EVAL_SECONDS", "0.05")))
    return [EvalOutcome(key=r.key, status="ok", fitness=hashed_fitness(r.expression, r.seed), metrics={"x": 1.0},
                        reason=None, detail=None, wall_time=0.01, worker=f"fake:{os.getpid()}", steps=r.steps or 0)
            for r in requests]


class Recording:
    """:func:`fake_batch` that keeps every request it was given (what the runner asked for)."""

    def __init__(self) -> None:
        self.requests: list[EvalRequest] = []

    def __call__(self, requests: Sequence[EvalRequest]) -> list[EvalOutcome]:
        self.requests.extend(requests)
        return fake_batch(requests)


def hang_on_sin(requests: Sequence[EvalRequest]) -> list[EvalOutcome]:
    """Like :func:`fake_batch`, but a candidate using sin never finishes."""
    if any("sin" in r.expression for r in requests):
        time.sleep(3600)
    return fake_batch(requests)


def job(database: store.Database, job_id: int) -> store.Job:
    with database.session() as session:
        row = store.get_job(session=session, job_id=job_id)
        assert row is not None
        session.expunge(row)
        return row


def rows(database: store.Database, model: Any, job_id: int) -> list[Any]:
    from sqlalchemy import select

    with database.session() as session:
        found = list(session.scalars(select(model).where(model.job_id == job_id).order_by(model.id)).all())
        session.expunge_all()
        return found


def evaluation_events(database: store.Database, job_id: int) -> collections.Counter[int]:
    """How many times each evaluation row was reported finished."""
    events = rows(database, store.Event, job_id)
    return collections.Counter(e.data["evaluation_id"] for e in events if e.kind == "evaluation")


def wait_for(predicate: Callable[[], bool], timeout: float = 60.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def assert_complete_and_exactly_once(database: store.Database, job_id: int, candidates: int) -> None:
    """The job completed with ``candidates`` candidates, and every evaluation row was reported
    finished exactly once: none lost, none run twice."""
    row = job(database, job_id)
    assert row.status == store.JOB_COMPLETED, row.error
    assert len(rows(database, store.Candidate, job_id)) == candidates
    evaluations = rows(database, store.Evaluation, job_id)
    assert all(e.status != store.PENDING for e in evaluations)
    reported = evaluation_events(database, job_id)
    assert sorted(reported) == sorted(e.id for e in evaluations)  # none lost
    assert set(reported.values()) == {1}  # none run twice
