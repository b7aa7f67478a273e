"""NaN and infinities in JSON survive a round trip on both backends; scalar columns refuse them."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from sqlalchemy import text

import store
from store import Candidate, Database, Job
from store._encode import decode, encode

NAN, INF = float("nan"), float("inf")
TRICKY: dict[str, Any] = {
    "loss": [1.5, NAN, INF, -INF, None, 0.0, -0.0, 1e308, 5e-324],
    "nested": {"deep": [[{"x": -INF}], {"y": NAN}], "ok": True, "n": 3, "s": "nan"},
    "look_alike": {"$float": "nan"},  # user data that resembles the tag stays user data
    "wrapped": {"$dict": {"$float": "inf"}},
    "empty": {},
}


def same(a: Any, b: Any) -> bool:
    """Equality that treats NaN as equal to NaN and tells 0.0 from -0.0 and 1 from 1.0."""
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def test_encoding_is_strict_json_and_lossless() -> None:
    text_ = encode(TRICKY)
    assert "NaN" not in text_ and "Infinity" not in text_
    assert same(decode(text_), TRICKY)
    assert same(decode(encode((1.0, NAN))), [1.0, NAN])
    assert same(decode(encode(-INF)), -INF)
    with pytest.raises(TypeError, match="keys must be strings"):
        encode({1: "a"})


# any text; lone surrogates are rarely drawn, so an example has them (the fast parser refuses
# "\ud800", json.loads reads it)
TEXT = st.text(st.characters(exclude_categories=()), max_size=8)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**80), 2**80) | st.floats() | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=20)


@given(JSON_VALUES)
@example({"\ud800": ["x\udfff", 1.5]})
def test_any_json_value_survives_encode_and_decode(value: Any) -> None:
    assert same(decode(encode(value)), value)


def test_non_finite_values_round_trip_through_the_database(
    database: Database, make_job: Callable[..., Job], make_candidate: Callable[..., Candidate]
) -> None:
    job = make_job(spec={"budget": {"seconds": INF}, "x": TRICKY})
    candidate = make_candidate(job.id, "a" * 32)
    with database.session() as session:
        evaluation, _ = store.add_evaluation(
            session=session, candidate_id=candidate.id, task="t", seed=0, steps=1
        )
        store.finish_evaluation(
            session=session, evaluation_id=evaluation.id, status="rejected", fitness=None, metrics=TRICKY
        )
        store.save_progress(session=session, job_id=job.id, controller_state={"best": [NAN, -INF]})
        store.append_event(session=session, job_id=job.id, kind="result", data={"fitness": NAN})
    with database.session() as session:
        [stored] = store.list_evaluations(session=session, candidate_id=candidate.id)
        loaded = store.get_job(session=session, job_id=job.id)
        [event] = store.events_after(session=session, job_id=job.id)
        raw = session.execute(text("SELECT metrics FROM evaluations")).scalar_one()
    assert same(stored.metrics, TRICKY)
    assert loaded is not None and same(loaded.spec, {"budget": {"seconds": INF}, "x": TRICKY})
    assert same(loaded.controller_state, {"best": [NAN, -INF]})
    assert same(event.data, {"fitness": NAN})
    assert '{"$float":"-inf"}' in raw


@pytest.mark.parametrize("bad", [NAN, INF, -INF])
def test_non_finite_scalars_are_refused_by_name(
    bad: float, database: Database, make_job: Callable[..., Job], make_candidate: Callable[..., Candidate]
) -> None:
    job = make_job()
    candidate = make_candidate(job.id, "a" * 32)
    with database.session() as session:
        evaluation, _ = store.add_evaluation(
            session=session, candidate_id=candidate.id, task="t", seed=0, steps=1
        )
    with pytest.raises(ValueError, match="evaluations.fitness must be a finite number or None"):
        with database.session() as session:
            store.finish_evaluation(
                session=session, evaluation_id=evaluation.id, status="ok", fitness=bad, metrics={}
            )
    with pytest.raises(ValueError, match="evaluations.wall_time"):
        with database.session() as session:
            store.finish_evaluation(
                session=session,
                evaluation_id=evaluation.id,
                status="ok",
                fitness=1.0,
                metrics={},
                wall_time=bad,
            )
    with pytest.raises(ValueError, match="candidates.cost"), database.session() as session:
        store.add_candidate(
            session=session, job_id=job.id, fingerprint="b" * 32, expression="e", expr_json={},
            canonical="e", latex="", torch_source="", properties={}, cost=bad,
        )  # fmt: skip
    with pytest.raises(ValueError, match="jobs.elapsed_seconds"), database.session() as session:
        store.save_progress(session=session, job_id=job.id, elapsed_seconds=bad)
    with pytest.raises(ValueError, match="candidates.fitness"), database.session() as session:
        loaded = store.get_candidate(session=session, candidate_id=candidate.id)
        assert loaded is not None
        loaded.fitness = bad
    with database.session() as session:  # nothing was half-written
        [pending] = [e for _, rows in store.job_results(session=session, job_id=job.id) for e in rows
                     if e.status == store.PENDING]
        assert pending.id == evaluation.id and pending.fitness is None
        assert store.count_candidates(session=session, job_id=job.id) == 1
