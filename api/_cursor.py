"""Leaderboard cursors: where the next page starts, opaque to clients.

A cursor is the URL-safe base64 of ``[1, job, rank, confirmed_mean, fitness, number, id]``: the
format's version, the job it pages, the rank of the row it follows, and that row's
:class:`store.RankKey`. Clients pass ``next_cursor`` back unchanged; anything else is a 422
naming ``cursor``.

Example:
    >>> text = encode_cursor(7, 50, store.RankKey(None, 0.5, 12, 345))
    >>> decode_cursor(text, job_id=7)
    (50, RankKey(confirmed_mean=None, fitness=0.5, number=12, id=345))
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from typing import Any

import store
from api._errors import Invalid
from api._schemas import MAX_ID

VERSION = 1
CURSOR_LENGTH = 200  # far above any cursor made here: two doubles, four integers


def encode_cursor(job_id: int, rank: int, key: store.RankKey) -> str:
    """The cursor of the page after the row ranked ``rank`` whose key is ``key``."""
    fields = [VERSION, job_id, rank, key.confirmed_mean, key.fitness, key.number, key.id]
    # repr round-trips a double exactly: the next page starts exactly after this row
    return base64.urlsafe_b64encode(json.dumps(fields, separators=(",", ":")).encode()).decode().rstrip("=")


def _integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_ID


def _number(value: Any) -> bool:
    return value is None or (isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value))


def decode_cursor(text: str, *, job_id: int) -> tuple[int, store.RankKey]:
    """The rank and key a cursor of this job's leaderboard starts after; Invalid if it is none."""
    try:
        fields = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (binascii.Error, ValueError):  # not base64, not UTF-8, not JSON
        fields = None
    if not (isinstance(fields, list) and len(fields) == 7 and fields[0] == VERSION
            and all(_integer(v) for v in (fields[1], fields[2], fields[5], fields[6]))
            and _number(fields[3]) and _number(fields[4])):
        raise Invalid(["query", "cursor"], "not a leaderboard cursor: pass a page's next_cursor unchanged")
    _, job, rank, confirmed_mean, fitness, number, candidate_id = fields
    if job != job_id:
        raise Invalid(["query", "cursor"], f"a cursor of job {job}'s leaderboard, not of job {job_id}'s")
    return rank, store.RankKey(_float(confirmed_mean), _float(fitness), number, candidate_id)


def _float(value: int | float | None) -> float | None:
    return None if value is None else float(value)
