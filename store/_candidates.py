"""Candidates: the distinct functions of a job, and its leaderboard."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
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


def leaderboard(
    *, session: Session, job_id: int, limit: int = 50, offset: int = 0
) -> tuple[list[Candidate], int]:
    """One page of the job's candidates, best first, and how many there are.

    Confirmed candidates come first, by confirmed mean; then the rest by search fitness; both
    descending with unknown values last, ties in order of proposal. Before a confirm phase no
    candidate has a confirmed mean, so this is simply the ranking by search fitness.
    """
    query = (
        select(Candidate)
        .where(Candidate.job_id == job_id)
        .order_by(
            Candidate.confirmed_mean.desc().nulls_last(),
            Candidate.fitness.desc().nulls_last(),
            Candidate.number,
        )
        .limit(limit)
        .offset(offset)
    )
    rows = list(session.scalars(query.execution_options(populate_existing=True)))
    return rows, count_candidates(session=session, job_id=job_id)
