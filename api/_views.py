"""Rows of the store as the API shows them."""

from __future__ import annotations

import collections
import logging
import math
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from pydantic_core import to_json

import store
from api._errors import jsonable
from api._schemas import (
    BaselinePublic,
    CandidatePublic,
    EvaluationPublic,
    JobPublic,
    Progress,
    Verdict,
)

log = logging.getLogger(__name__)

Shown = store.Candidate | store.CandidateView  # a candidate, or a row of store.leaderboard_view / candidates_view
Baselines = dict[int, tuple[str, Shown]]  # candidate id -> (name, its row), in the job's order


def utc(value: datetime | None) -> datetime | None:
    """The store's naive UTC timestamps, marked as UTC (they serialize with a ``Z``)."""
    return None if value is None else value.replace(tzinfo=UTC)


def baselines_of(job: store.Job | store.JobView) -> list[BaselinePublic]:
    """The job's baselines as the runner lists them in its summary ([] before it does)."""
    listed = job.summary.get("baselines") if isinstance(job.summary, dict) else None
    found = []
    for item in listed if isinstance(listed, list) else []:
        try:
            found.append(BaselinePublic.model_validate(item))
        except ValidationError:  # written by another version: the job still shows
            log.warning("job %s lists a baseline the API cannot read: %r", job.id, item)
    return found


def jobs_public(session: store.Session, jobs: Sequence[store.Job]) -> list[JobPublic]:
    """Jobs as shown, their progress counting the search's candidates only: the store's counter
    counts the baselines as well (they are candidates of the job), so those that are done are
    taken off it — one query for all the jobs, none for a job without baselines."""
    listed = {job.id: baselines_of(job) for job in jobs}
    done = store.finished_candidates(session=session, ids={b.candidate_id for bs in listed.values() for b in bs})
    return [job_public(job, listed[job.id], sum(b.candidate_id in done for b in listed[job.id])) for job in jobs]


def job_public(job: store.Job, baselines: list[BaselinePublic] | None = None, baselines_done: int = 0) -> JobPublic:
    """``baselines_done``: how many of the job's baselines ``job.candidates_done`` counts
    (:func:`jobs_public` reads it)."""
    budget = (job.spec.get("budget") or {}).get("candidates") if isinstance(job.spec, dict) else None
    budget = budget if isinstance(budget, int) and budget > 0 else None
    done = max(0, job.candidates_done - baselines_done)
    if budget is not None and stop_reason(job) == "candidates":
        # the budget stopped the search: it proposed that many, and all of them finished (a
        # baseline it proposed too is one of them, which the subtraction above cannot tell)
        done = max(done, budget)
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
            candidates_done=done,
            candidates_budget=budget,
            fraction=None if budget is None else min(1.0, done / budget),
            evaluations_done=job.evaluations_done,
            rejected=job.rejected,
            failed=job.failed,
            **confirm_progress(job),
        ),
        best_fitness=job.best_fitness,
        elapsed_seconds=job.elapsed_seconds or 0.0,
        error=job.error,
        stop_reason=stop_reason(job),
        summary=jsonable(job.summary),
        baselines=baselines_of(job) if baselines is None else baselines,
        spec=jsonable(job.spec),
    )


def confirm_progress(job: store.Job) -> dict[str, Any]:
    """The confirm phase's counts and time left, from the runner's tally in the job's summary
    (``worker._eta``); its estimate was made at the elapsed time ``at`` and is brought forward to
    the job's elapsed seconds, which the runner's heartbeat keeps current."""
    tally = job.summary.get("confirm") if isinstance(job.summary, dict) else None
    if not isinstance(tally, dict):
        return {"confirm_evaluations": None, "confirm_done": None, "confirm_eta_seconds": None}
    eta, at = tally.get("eta_seconds"), tally.get("at")
    if isinstance(eta, (int, float)) and isinstance(at, (int, float)):
        eta = max(0.0, eta - max(0.0, (job.elapsed_seconds or 0.0) - at))
    if tally.get("done") == tally.get("evaluations"):
        eta = 0.0
    return {"confirm_evaluations": tally.get("evaluations"), "confirm_done": tally.get("done"),
            "confirm_eta_seconds": eta if isinstance(eta, (int, float)) else None}


def stop_reason(job: store.Job) -> Any:
    """Why the job's search stopped: its final status when cancelled or failed, else the reason
    the runner saved as the search ended (jobs finished before it did so have none)."""
    if job.status in (store.JOB_CANCELLED, store.JOB_FAILED):
        return job.status
    stop = job.summary.get("stop") if isinstance(job.summary, dict) else None
    return stop if stop in ("candidates", "seconds", "exhausted") else None


def baseline_rows(session: store.Session, job: store.Job | store.JobView, page: Sequence[Shown] = ()) -> Baselines:
    """The job's baselines with their rows: from ``page`` where they are on it, else read (one
    query, none when the page holds them all)."""
    listed = baselines_of(job)
    on_page = {row.id: row for row in page}
    missing = {b.candidate_id for b in listed} - on_page.keys()
    read = {row.id: row for row in store.candidates_view(session=session, ids=missing)}
    return {b.candidate_id: (b.name, on_page.get(b.candidate_id) or read[b.candidate_id])
            for b in listed if b.candidate_id in on_page or b.candidate_id in read}


def relative(candidate: Shown, baselines: Baselines) -> list[dict[str, Any]]:
    """The candidate's score minus each other baseline's (:class:`Relative` fields): the confirmed
    means when both are confirmed (with the standard error of the difference over the seeds),
    else the search fitnesses; baselines without a score to compare with are left out."""
    found = []
    for baseline_id, (name, baseline) in baselines.items():
        if baseline_id == candidate.id:
            continue
        if candidate.confirmed_mean is not None and baseline.confirmed_mean is not None:
            seeds = min(candidate.confirmed_seeds, baseline.confirmed_seeds)
            stds = (candidate.confirmed_std, baseline.confirmed_std)
            spread = (math.sqrt(stds[0] ** 2 + stds[1] ** 2) / math.sqrt(seeds)
                      if stds[0] is not None and stds[1] is not None and seeds > 0 else None)
            found.append({"name": name, "difference": candidate.confirmed_mean - baseline.confirmed_mean,
                          "spread": spread})
        elif candidate.fitness is not None and baseline.fitness is not None:
            found.append({"name": name, "difference": candidate.fitness - baseline.fitness, "spread": None})
    return found


def _stored_verdict(candidate: Shown) -> dict[str, Any] | None:
    properties = candidate.properties
    verdict = properties.get("verdict") if isinstance(properties, dict) else None
    return verdict if isinstance(verdict, dict) and isinstance(verdict.get("transfers"), bool) else None


def _fails_on(verdict: dict[str, Any]) -> list[str]:
    tasks = verdict.get("tasks")
    return [str(task) for task, row in tasks.items() if isinstance(row, dict) and row.get("fails")] \
        if isinstance(tasks, dict) else []


def verdict_brief(candidate: Shown) -> dict[str, Any] | None:
    """The transfer verdict in a line (:class:`VerdictBrief` fields): transfers, or the tasks it
    fails on and why."""
    verdict = _stored_verdict(candidate)
    if verdict is None:
        return None
    return {"transfers": verdict["transfers"], "summary": str(verdict.get("summary") or ""),
            "fails_on": _fails_on(verdict)}


def verdict_table(candidate: Shown) -> Verdict | None:
    """The whole transfer verdict: per confirm task the candidate's numbers beside each baseline's."""
    verdict = _stored_verdict(candidate)
    if verdict is None:
        return None
    try:
        return Verdict.model_validate({**jsonable(verdict), "fails_on": _fails_on(verdict)})
    except ValidationError:  # written by another version: the properties still hold it
        log.warning("candidate %s has a verdict the API cannot read", candidate.id)
        return None


def _candidate_fields(candidate: Shown, baselines: Baselines, json_value: Any = jsonable) -> dict[str, Any]:
    """What a leaderboard row and a candidate's own view both show, plain values in the order of
    :class:`CandidateFields`; ``json_value`` writes the JSON columns' non-finite floats as
    strings (:func:`jsonable`; or the serializer does)."""
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
        "known_params": json_value(candidate.known_params),
        "cost": candidate.cost,
        "properties": json_value(candidate.properties or {}),
        "baseline": baselines[candidate.id][0] if candidate.id in baselines else None,
        "vs_baselines": relative(candidate, baselines),
    }


# A row of store.leaderboard_view as a named tuple: an attribute of a SQLAlchemy row costs about
# 50 times a named tuple's (0.3 ms of a 50-row page went on reading them).
_Plain = collections.namedtuple("_Plain", [column.key for column in store.SHOWN])  # type: ignore[misc]


def leaderboard_body(*, job_id: int, count: int, rows: Sequence[store.CandidateView], start: int,
                     baselines: Baselines, next_cursor: str | None) -> bytes:
    """A page as the JSON of :class:`LeaderboardPublic`, rows ranked from ``start + 1``;
    ``baselines``: the job's (:func:`baseline_rows`).

    Built from plain values in the models' field order and serialized by pydantic's own
    serializer, so the bytes are the ones the model gives (tests/api/test_leaderboard_body.py),
    without validating values the store has already typed: the validation of a 50-row page
    cost more than reading it. The serializer writes non-finite floats as :func:`jsonable` does
    (``inf_nan_mode="strings"``), in C: walking 50 rows' properties in Python cost a quarter of
    a deep page."""
    plain: list[Any] = [_Plain._make(row) for row in rows]
    data = [{**_candidate_fields(row, baselines, _as_is), "rank": start + i + 1, "candidate_id": row.id,
             "verdict": verdict_brief(row)} for i, row in enumerate(plain)]
    return to_json({"job_id": job_id, "data": data, "count": count, "next_cursor": next_cursor},
                   inf_nan_mode="strings")


def _as_is(value: Any) -> Any:
    return value


def candidate_public(candidate: store.Candidate, baselines: Baselines | None = None) -> CandidatePublic:
    return CandidatePublic(id=candidate.id, job_id=candidate.job_id, fingerprint=candidate.fingerprint,
                           torch_source=candidate.torch_source, created_at=candidate.created_at.replace(tzinfo=UTC),
                           verdict=verdict_table(candidate), **_candidate_fields(candidate, baselines or {}))


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
