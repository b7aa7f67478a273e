"""api._views.leaderboard_body writes a page without pydantic's validation: its bytes must be
the ones LeaderboardPublic gives for the same page, whatever the rows hold."""

from __future__ import annotations

import collections
import json
import math
from typing import Any

import store
from api._schemas import LeaderboardPublic, LeaderboardRow
from api._views import _candidate_fields, leaderboard_body, verdict_brief

VERDICT = {"transfers": False, "summary": "fails on mnist1d-mlp: diverged",
           "tasks": {"mnist1d-mlp": {"fails": "diverged", "mean": None}, "digits": {"fails": None}}}


Row = collections.namedtuple("Row", [column.key for column in store.SHOWN])  # type: ignore[misc]


def row(id: int, **fields: Any) -> Any:
    """A row of store.leaderboard_view's columns."""
    values: dict[str, Any] = {
        "id": id, "job_id": 1, "number": id, "expression": f"x * sigmoid({id} * x)", "canonical": "x*sigmoid(x)",
        "latex": r"x \sigma(x)", "status": "ok", "fitness": 0.5 / id, "fidelity": 20, "confirmed_mean": None,
        "confirmed_std": None, "confirmed_seeds": 0, "known_as": None, "known_params": None, "cost": 3.0,
        "properties": {"smooth": True}}
    return Row(**{**values, **fields})


ROWS = [
    row(1, confirmed_mean=0.9, confirmed_std=0.01, confirmed_seeds=3, known_as="swish", known_params={"beta": 1.0},
        properties={"verdict": VERDICT, "loss": [math.nan, math.inf, -math.inf, 1e-7, 1e16], "ü": "∞ ☃"}),
    row(2, confirmed_mean=0.8, confirmed_std=None, confirmed_seeds=2, properties={"verdict": {"transfers": True}}),
    row(3, fitness=None, status="rejected", fidelity=None, cost=None, properties=None),
    row(4, fitness=-1.2345678901234567e-300, expression='say "hi"\n\t\\', properties={"nested": {"a": [{"b": None}]}}),
    row(5, status="pending", fitness=None, confirmed_seeds=0, properties={}),
]


def through_model(**page: Any) -> bytes:
    """The page as the validated model serializes it (what the route returned before)."""
    data = [LeaderboardRow(rank=page["start"] + i + 1, candidate_id=r.id, verdict=verdict_brief(r),
                           **_candidate_fields(r, page["baselines"])) for i, r in enumerate(page["rows"])]
    return LeaderboardPublic(job_id=page["job_id"], count=page["count"], data=data,
                             next_cursor=page["next_cursor"]).model_dump_json().encode()


def test_the_body_is_the_models_serialization() -> None:
    baselines = {ROWS[0].id: ("ReLU", ROWS[0]), ROWS[2].id: ("SiLU", ROWS[2]), ROWS[1].id: ("GELU", ROWS[1])}
    for rows, cursor in ((ROWS, "abc"), (ROWS[2:], None), ([], None)):
        for listed in (baselines, {}):
            page = {"job_id": 7, "count": 123, "rows": rows, "start": 40, "baselines": listed, "next_cursor": cursor}
            body = leaderboard_body(**page)  # type: ignore[arg-type]
            assert body == through_model(**page)
            assert LeaderboardPublic.model_validate_json(body).model_dump_json().encode() == body


def test_the_body_says_what_each_row_is() -> None:
    body = json.loads(leaderboard_body(job_id=7, count=5, rows=ROWS, start=0,  # type: ignore[arg-type]
                                       baselines={ROWS[1].id: ("ReLU", ROWS[1])}, next_cursor=None))
    first, second = body["data"][:2]
    assert [r["rank"] for r in body["data"]] == [1, 2, 3, 4, 5]
    assert first["properties"]["loss"][:3] == ["NaN", "Infinity", "-Infinity"]
    assert first["verdict"] == {"transfers": False, "summary": VERDICT["summary"], "fails_on": ["mnist1d-mlp"]}
    assert first["vs_baselines"] == [{"name": "ReLU", "difference": 0.9 - 0.8, "spread": None}]
    assert second["baseline"] == "ReLU" and second["vs_baselines"] == []
