"""What the confirm phase reads and writes: the search's best candidates, the results of a set
of candidates on one task, and a candidate's verdict."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from store._models import OK, Candidate, Evaluation


def best_candidates(*, session: Session, job_id: int, limit: int) -> list[Candidate]:
    """The job's ``limit`` best candidates by search fitness (ok ones; ties by number),
    detached from the session."""
    rows = session.scalars(
        select(Candidate).where(Candidate.job_id == job_id, Candidate.status == OK, Candidate.fitness.is_not(None))
        .order_by(Candidate.fitness.desc(), Candidate.number).limit(limit)).all()
    session.expunge_all()
    return list(rows)


def evaluation_results(*, session: Session, candidate_ids: Sequence[int], task: str, steps: int,
                       seeds: Iterable[int]) -> dict[int, list[tuple[str, float | None, str | None]]]:
    """Candidate id -> (status, fitness, reason) of its evaluations on ``task`` at ``steps``,
    one per seed in ``seeds`` order (a missing row reads as pending)."""
    seeds = list(seeds)
    rows = session.scalars(select(Evaluation).where(
        Evaluation.candidate_id.in_(list(candidate_ids)), Evaluation.task == task, Evaluation.steps == steps,
        Evaluation.seed.in_(seeds))).all()
    found = {(row.candidate_id, row.seed): (row.status, row.fitness, row.reason) for row in rows}
    return {candidate_id: [found.get((candidate_id, seed), ("pending", None, None)) for seed in seeds]
            for candidate_id in candidate_ids}


def settle_candidate(*, session: Session, candidate_id: int, known: tuple[str, dict[str, float]] | None,
                     confirmed: tuple[float | None, float | None, int] | None = None,
                     verdict: dict[str, Any] | None = None) -> None:
    """The confirm phase's conclusions about a candidate: the published function it is (name,
    fitted parameters), its confirmed (mean, std, seeds) where the caller computes them, and
    its transfer verdict (in ``properties["verdict"]``)."""
    row = session.get(Candidate, candidate_id)
    if row is None:
        return
    if known is not None:
        row.known_as, row.known_params = known
    if confirmed is not None:
        row.confirmed_mean, row.confirmed_std, row.confirmed_seeds = confirmed
    if verdict is not None:
        row.properties = {**(row.properties or {}), "verdict": verdict}
