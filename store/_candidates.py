"""Candidates: the distinct functions of a job, and its leaderboard."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, select, tuple_, update
from sqlalchemy.orm import Session

from store._jobs import lock_job
from store._models import Candidate, Job


def get_candidate(*, session: Session, candidate_id: int) -> Candidate | None:
    return session.get(Candidate, candidate_id, populate_existing=True)


def find_candidate(*, session: Session, job_id: int, fingerprint: str) -> Candidate | None:
    """The job's candidate with this fingerprint (one function, however it was written)."""
    query = select(Candidate).where(Candidate.job_id == job_id, Candidate.fingerprint == fingerprint)
    return session.scalar(query.execution_options(populate_existing=True))


def add_candidate(
    *,
    session: Session,
    job_id: int,
    fingerprint: str,
    expression: str,
    expr_json: Any,
    canonical: str,
    latex: str,
    torch_source: str,
    properties: Any,
    known_as: str | None = None,
    known_params: Any | None = None,
    cost: float | None = None,
) -> Candidate:
    """Stores a proposed function, numbered in order of proposal within the job — or returns
    the row already stored for this fingerprint, unchanged (a function is stored once per job,
    which is what makes "never train the same function twice" possible)."""
    existing = find_candidate(session=session, job_id=job_id, fingerprint=fingerprint)
    if existing is not None:
        return existing
    lock_job(session, job_id)  # serializes numbering; then look again, another writer may have won
    existing = find_candidate(session=session, job_id=job_id, fingerprint=fingerprint)
    if existing is not None:
        return existing
    number = count_candidates(session=session, job_id=job_id) + 1  # numbers are 1..n: the counter is the last
    session.execute(update(Job).where(Job.id == job_id).values(candidates_proposed=number))
    candidate = Candidate(
        job_id=job_id,
        number=number,
        fingerprint=fingerprint,
        expression=expression,
        expr_json=expr_json,
        canonical=canonical,
        latex=latex,
        torch_source=torch_source,
        properties=properties,
        known_as=known_as,
        known_params=known_params,
        cost=cost,
    )
    session.add(candidate)
    session.flush()
    return candidate


def count_candidates(*, session: Session, job_id: int) -> int:
    """How many candidates the job has stored (a counter kept by :func:`add_candidate`)."""
    return int(session.scalar(select(Job.candidates_proposed).where(Job.id == job_id)) or 0)


# The leaderboard's order, total: the id settles what the number (unique in practice, not by
# constraint) might leave. ix_candidates_rank holds exactly this order, so a page is one range scan.
RANK_ORDER = (
    Candidate.confirmed_mean.desc().nulls_last(),
    Candidate.fitness.desc().nulls_last(),
    Candidate.number,
    Candidate.id,
)


@dataclass(frozen=True)
class RankKey:
    """Where a candidate stands in its job's leaderboard: the values of the leaderboard's order.

    The key of a page's last row is where the next page starts (keyset paging), however many
    rows come before it.

    Example:
        >>> RankKey(confirmed_mean=None, fitness=0.5, number=3, id=17)
        RankKey(confirmed_mean=None, fitness=0.5, number=3, id=17)
    """

    confirmed_mean: float | None
    fitness: float | None
    number: int
    id: int

    @classmethod
    def of(cls, candidate: Candidate) -> RankKey:
        return cls(candidate.confirmed_mean, candidate.fitness, candidate.number, candidate.id)


def _after(key: RankKey) -> list[list[ColumnElement[bool]]]:
    """The rows after ``key`` in the leaderboard's order, as conditions whose results follow each
    other in that order.

    Each is one range of ix_candidates_rank. One row comparison, (confirmed_mean, fitness,
    number, id) < (...), cannot say it: the columns run descending with NULLs last, then
    ascending; and an OR of the cases is not one range of the index.
    """

    def same(column: Any, value: float | None) -> ColumnElement[bool]:
        return column.is_(None) if value is None else column == value

    levels = [(Candidate.confirmed_mean, key.confirmed_mean), (Candidate.fitness, key.fitness)]
    # ties on both values: later in order of proposal
    ranges = [[*(same(c, v) for c, v in levels), tuple_(Candidate.number, Candidate.id) > tuple_(key.number, key.id)]]
    for depth in reversed(range(len(levels))):
        column, value = levels[depth]
        if value is None:
            continue  # NULLs come last: nothing follows them at this level
        prefix = [same(c, v) for c, v in levels[:depth]]
        ranges += [[*prefix, column < value], [*prefix, column.is_(None)]]
    return ranges


def _page(query: Select[Candidate], session: Session) -> list[Candidate]:
    return list(session.scalars(query.execution_options(populate_existing=True)))


def leaderboard(
    *, session: Session, job_id: int, limit: int = 50, offset: int = 0, after: RankKey | None = None
) -> tuple[list[Candidate], int]:
    """One page of the job's candidates, best first, and how many there are.

    Confirmed candidates come first, by confirmed mean; then the rest by search fitness; both
    descending with unknown values last, ties in order of proposal (then of id). Before a confirm phase no
    candidate has a confirmed mean, so this is simply the ranking by search fitness.

    A page starts ``offset`` rows from the top, or right after the row whose key is ``after``
    (:meth:`RankKey.of` a previous page's last row). ``after`` costs the same at any depth, and
    rows that arrive between pages do not push rows of the next page onto it again; ``offset``
    walks the rows it skips.
    """
    if after is not None and offset:
        raise ValueError("a page starts at an offset or after a key, not both")
    base = select(Candidate).where(Candidate.job_id == job_id).order_by(*RANK_ORDER)
    if after is None:
        rows = _page(base.limit(limit).offset(offset), session)
    else:
        rows = []
        for conditions in _after(after):
            if len(rows) >= limit:
                break
            rows += _page(base.where(*conditions).limit(limit - len(rows)), session)
    return rows, count_candidates(session=session, job_id=job_id)

