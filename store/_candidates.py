"""Candidates: the distinct functions of a job, and its leaderboard."""

from __future__ import annotations

import functools
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Row,
    Select,
    bindparam,
    literal,
    outerjoin,
    select,
    tuple_,
    union_all,
    update,
)
from sqlalchemy.orm import Session

from store._jobs import execute_dml, execute_plain, lock_job
from store._models import PENDING, Candidate, Job, Token
from store._tokens import TOKEN_CHECK, Caller, checked_caller, hash_secret


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
    which is what makes "never train the same function twice" possible). Either way the row
    has its id."""
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


def describe_candidate(*, session: Session, candidate_id: int, canonical: str, torch_source: str,
                       properties: Any) -> None:
    """Fills in the slow part of a candidate's description, computed after it was stored (a
    candidate that is gone is left alone)."""
    execute_dml(session, update(Candidate).where(Candidate.id == candidate_id)
                .values(canonical=canonical, torch_source=torch_source, properties=properties))


def count_candidates(*, session: Session, job_id: int) -> int:
    """How many candidates the job has stored (a counter kept by :func:`add_candidate`)."""
    return int(session.scalar(select(Job.candidates_proposed).where(Job.id == job_id)) or 0)


def _rank_order(columns: Any) -> tuple[Any, ...]:
    """The leaderboard's order on ``columns`` (the candidates table's, or a subquery's of them)."""
    return (columns.confirmed_mean.desc().nulls_last(), columns.fitness.desc().nulls_last(), columns.number,
            columns.id)


# The leaderboard's order, total: the id settles what the number (unique in practice, not by
# constraint) might leave. ix_candidates_rank holds exactly this order, so a page is one range scan.
RANK_ORDER = _rank_order(Candidate)


# What a leaderboard page shows of a candidate: all but its code (expr_json, torch_source) and
# fingerprint, which a page never shows and which are most of a row's bytes.
SHOWN = (
    Candidate.id, Candidate.job_id, Candidate.number, Candidate.expression, Candidate.canonical, Candidate.latex,
    Candidate.status, Candidate.fitness, Candidate.fidelity, Candidate.confirmed_mean, Candidate.confirmed_std,
    Candidate.confirmed_seeds, Candidate.known_as, Candidate.known_params, Candidate.cost, Candidate.properties,
)


CandidateView = Row[Any]  # a row of the SHOWN columns, attributes named as the candidate's
JobView = Row[Any]  # a row of authenticate_for_job's, attributes named as the job's


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
    def of(cls, candidate: Candidate | CandidateView) -> RankKey:
        """The key of a candidate, or of a row of :func:`leaderboard_view`."""
        return cls(candidate.confirmed_mean, candidate.fitness, candidate.number, candidate.id)


@functools.cache
def _ranges(confirmed_known: bool, fitness_known: bool, shown: bool) -> tuple[Select[Any], ...]:
    """The rows after a key in the leaderboard's order, as statements whose results follow each
    other in that order, for keys whose confirmed mean and fitness are known (or not); of whole
    candidates or of the ``SHOWN`` columns.

    Each is one range of ix_candidates_rank. One row comparison, (confirmed_mean, fitness,
    number, id) < (...), cannot say it: the columns run descending with NULLs last, then
    ascending; and an OR of the cases is not one range of the index. Built once per shape, with
    the key as bound parameters (``job_id``, ``confirmed_mean``, ``fitness``, ``number``, ``id``,
    ``limit``): building a statement cost as much as running it.
    """
    levels = [(Candidate.confirmed_mean, confirmed_known), (Candidate.fitness, fitness_known)]

    def same(column: Any, known: bool) -> ColumnElement[bool]:
        return column == bindparam(column.key) if known else column.is_(None)

    # ties on both values: later in order of proposal, then of id
    after = tuple_(Candidate.number, Candidate.id) > tuple_(bindparam("number"), bindparam("id"))
    ranges = [[*(same(c, known) for c, known in levels), after]]
    for depth in reversed(range(len(levels))):
        column, known = levels[depth]
        if not known:
            continue  # NULLs come last: nothing follows them at this level
        prefix = [same(c, k) for c, k in levels[:depth]]
        ranges += [[*prefix, column < bindparam(column.key)], [*prefix, column.is_(None)]]
    base = _select(shown).where(Candidate.job_id == bindparam("job_id")).order_by(*RANK_ORDER)
    statements = tuple(base.where(*conditions).limit(bindparam("limit")) for conditions in ranges)
    if shown and len(statements) > 1:
        # The first range (ties with the key) is nearly always empty, and a page then took a
        # statement for nothing: it and the next are one statement (on PostgreSQL a round trip).
        statements = (_one_then_the_other(*statements[:2]), *statements[2:])
    return statements


def _one_then_the_other(first: Select[Any], second: Select[Any]) -> Select[Any]:
    """The rows of ``first``, then those of ``second`` (``SHOWN`` columns, each in the
    leaderboard's order), at most ``limit`` in all, as one statement. Each part is still one
    range of ix_candidates_rank; the ``limit`` rows or fewer they give are sorted once more."""
    parts = [query.add_columns(literal(i).label("part")).subquery() for i, query in enumerate((first, second))]
    both = union_all(select(parts[0]), select(parts[1])).subquery()
    return (select(*(both.c[column.key] for column in SHOWN)).order_by(both.c.part, *_rank_order(both.c))
            .limit(bindparam("limit")))


@functools.cache
def _from_top(shown: bool) -> Select[Any]:
    """The page ``offset`` rows from the top, built once (``job_id``, ``limit``, ``offset`` bound)."""
    return (_select(shown).where(Candidate.job_id == bindparam("job_id")).order_by(*RANK_ORDER)
            .limit(bindparam("limit")).offset(bindparam("offset")))


def _select(shown: bool) -> Select[Any]:
    return select(*SHOWN) if shown else select(Candidate).execution_options(populate_existing=True)


def _ranked(session: Session, job_id: int, limit: int, offset: int, after: RankKey | None, shown: bool) -> list[Any]:
    def run(query: Select[Any], params: dict[str, Any]) -> list[Any]:
        return list(execute_plain(session, query, params).all() if shown else session.scalars(query, params).all())

    if after is not None and offset:
        raise ValueError("a page starts at an offset or after a key, not both")
    if after is None:
        return run(_from_top(shown), {"job_id": job_id, "limit": limit, "offset": offset})
    # Range after range until the page is full: usually the first or second (a statement each
    # costs less than one statement of them all, which SQLite sorts range by range).
    key = {"job_id": job_id, "confirmed_mean": after.confirmed_mean, "fitness": after.fitness,
           "number": after.number, "id": after.id}
    rows: list[Any] = []
    for query in _ranges(after.confirmed_mean is not None, after.fitness is not None, shown):
        if len(rows) >= limit:
            break
        rows += run(query, {**key, "limit": limit - len(rows)})
    return rows


def leaderboard(
    *, session: Session, job_id: int, limit: int = 50, offset: int = 0, after: RankKey | None = None
) -> tuple[list[Candidate], int]:
    """One page of the job's candidates, best first, and how many there are.

    Confirmed candidates come first, by confirmed mean; then the rest by search fitness; both
    descending with unknown values last, ties in order of proposal (then of id). Before a
    confirm phase no candidate has a confirmed mean, so this is simply the ranking by search
    fitness.

    A page starts ``offset`` rows from the top, or right after the row whose key is ``after``
    (:meth:`RankKey.of` a previous page's last row). ``after`` costs the same at any depth, and
    rows that arrive between pages do not push rows of the next page onto it again; ``offset``
    walks the rows it skips.
    """
    rows = _ranked(session, job_id, limit, offset, after, shown=False)
    return rows, count_candidates(session=session, job_id=job_id)


def leaderboard_view(
    *, session: Session, job_id: int, limit: int = 50, offset: int = 0, after: RankKey | None = None
) -> list[CandidateView]:
    """The page :func:`leaderboard` gives, as plain rows of the ``SHOWN`` columns (attributes
    named as the candidate's), without the count: what the API renders. Without the ORM's
    bookkeeping a page is read in half the time."""
    return _ranked(session, job_id, limit, offset, after, shown=True)


# What a leaderboard page depends on of its job: its owner (who may see it), what tells that a
# rendered page is stale (status, phase, updated_at, the counters) and its baselines (summary).
_BOARD_COLUMNS = (Job.id, Job.owner, Job.status, Job.phase, Job.updated_at, Job.candidates_proposed,
                  Job.evaluations_done, Job.summary)
# The caller's token beside them, one statement for both: the job's columns under their own names
# (the row is the JobView), the token's as token_0, token_1, ... (the order of TOKEN_CHECK).
_TOKEN_AND_BOARD_JOB = (
    select(*_BOARD_COLUMNS, *(column.label(f"token_{i}") for i, column in enumerate(TOKEN_CHECK)))
    .select_from(outerjoin(Token, Job, Job.id == bindparam("job_id")))
    .where(Token.token_hash == bindparam("digest"))
)


def authenticate_for_job(*, session: Session, secret: str, job_id: int) -> tuple[Caller | None, JobView | None]:
    """:func:`store.authenticate`, and the columns of the job that its leaderboard pages depend on
    as a plain row, in one statement: read on every page, cached or not (on PostgreSQL a round
    trip fewer than two reads, and without the spec and the ORM's bookkeeping). The job is None
    when there is no such job, and also when the token is unknown or revoked (the caller is None
    then)."""
    digest = hash_secret(secret)
    row = execute_plain(session, _TOKEN_AND_BOARD_JOB, {"digest": digest, "job_id": job_id}).first()
    if row is None:
        return None, None
    caller = checked_caller(session, tuple(row[len(_BOARD_COLUMNS):]), digest)
    return caller, (row if caller is not None and row.id is not None else None)


def candidates_view(*, session: Session, ids: Collection[int]) -> list[CandidateView]:
    """The candidates of ``ids`` as plain rows of the ``SHOWN`` columns (as :func:`leaderboard_view`
    gives them), in no order: a job's baselines beside a leaderboard page they are not on."""
    if not ids:
        return []
    return list(session.execute(select(*SHOWN).where(Candidate.id.in_(list(ids)))).all())


def finished_candidates(*, session: Session, ids: Collection[int]) -> set[int]:
    """Those of ``ids`` whose candidate is no longer pending: the ones a job's ``candidates_done``
    counts."""
    if not ids:
        return set()
    return set(session.scalars(select(Candidate.id).where(Candidate.id.in_(list(ids)), Candidate.status != PENDING)))
