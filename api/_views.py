"""Rows of the store as the API shows them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Row

import store
from api._errors import jsonable
from api._schemas import (
    CandidatePublic,
    EvaluationPublic,
    JobPublic,
    LeaderboardRow,
    Progress,
)


def utc(value: datetime | None) -> datetime | None:
    """The store's naive UTC timestamps, marked as UTC (they serialize with a ``Z``)."""
    return None if value is None else value.replace(tzinfo=UTC)


def job_public(job: store.Job) -> JobPublic:
    budget = (job.spec.get("budget") or {}).get("candidates") if isinstance(job.spec, dict) else None
    budget = budget if isinstance(budget, int) and budget > 0 else None
    return JobPublic(
        id=job.id,
        name=job.name,
        owner=job.owner,
        status=job.status,  # type: ignore[arg-type]  # one of store.JOB_STATUSES
        phase=job.phase,
        cancel_requested=job.cancel_requested,
        created_at=job.created_at.replace(tzinfo=UTC),
        started_at=utc(job.started_at),
        finished_at=utc(job.finished_at),
        progress=Progress(
            candidates_done=job.candidates_done,
            candidates_budget=budget,
            fraction=None if budget is None else min(1.0, job.candidates_done / budget),
            evaluations_done=job.evaluations_done,
            rejected=job.rejected,
            failed=job.failed,
        ),
        best_fitness=job.best_fitness,
        elapsed_seconds=job.elapsed_seconds or 0.0,
        error=job.error,
        stop_reason=stop_reason(job),
        summary=jsonable(job.summary),
        spec=jsonable(job.spec),
    )


def stop_reason(job: store.Job) -> Any:
    """Why the job's search stopped: its final status when cancelled or failed, else the reason
    the runner saved as the search ended (jobs finished before it did so have none)."""
    if job.status in (store.JOB_CANCELLED, store.JOB_FAILED):
        return job.status
    stop = job.summary.get("stop") if isinstance(job.summary, dict) else None
    return stop if stop in ("candidates", "seconds", "exhausted") else None


def _candidate_fields(candidate: store.Candidate | Row[Any]) -> dict[str, Any]:
    """What a leaderboard row and a candidate's own view both show."""
    return {
        "number": candidate.number,
        "expression": candidate.expression,
        "canonical": candidate.canonical,
        "latex": candidate.latex,
        "status": candidate.status,  # one of store.RESULT_STATUSES
        "fitness": candidate.fitness,
        "fidelity": candidate.fidelity,
        "confirmed_mean": candidate.confirmed_mean,
        "confirmed_std": candidate.confirmed_std,
        "confirmed_seeds": candidate.confirmed_seeds,
        "known_as": candidate.known_as,
        "known_params": jsonable(candidate.known_params),
        "cost": candidate.cost,
        "properties": jsonable(candidate.properties or {}),
    }


def leaderboard_row(rank: int, candidate: store.Candidate | Row[Any]) -> LeaderboardRow:
    """A candidate, or a row of ``store.leaderboard_view``, at its rank."""
    return LeaderboardRow(rank=rank, candidate_id=candidate.id, **_candidate_fields(candidate))


def candidate_public(candidate: store.Candidate) -> CandidatePublic:
    return CandidatePublic(id=candidate.id, job_id=candidate.job_id, fingerprint=candidate.fingerprint,
                           torch_source=candidate.torch_source, created_at=candidate.created_at.replace(tzinfo=UTC),
                           **_candidate_fields(candidate))


def evaluation_public(evaluation: store.Evaluation, population: int | None = None) -> EvaluationPublic:
    return EvaluationPublic(
        id=evaluation.id,
        candidate_id=evaluation.candidate_id,
        task=evaluation.task,
        seed=evaluation.seed,
        steps=evaluation.steps,
        phase=evaluation.phase,
        status=evaluation.status,  # type: ignore[arg-type]
        fitness=evaluation.fitness,
        metrics=jsonable(evaluation.metrics or {}),
        reason=evaluation.reason,
        detail=evaluation.detail,
        wall_time=evaluation.wall_time,
        population=population,
        worker=evaluation.worker,
        attempts=evaluation.attempts,
        created_at=evaluation.created_at.replace(tzinfo=UTC),
        finished_at=utc(evaluation.finished_at),
    )
