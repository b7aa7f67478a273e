"""Evaluations: training runs of candidates, and what their results say about the candidate.

A candidate's numbers are derived from its evaluations every time one finishes:

* Search (``phase="search"``): among finished search evaluations that reached a verdict about
  the function (``ok`` or ``rejected``; a ``failed`` run crashed and says nothing), take those
  at the highest ``steps``. ``fidelity`` is those steps, ``fitness`` the mean of their ``ok``
  fitnesses over seeds (None if none is ok), ``status`` is ``ok`` if any of them is ok, else
  ``rejected``. With only failed evaluations the candidate is ``failed``; with none finished,
  ``pending``.
* Several tasks (a multi-task job): the runner writes each candidate's score as ``COMBINED``
  rows (one per rung in the search, one per seed in the confirm phase) from the tasks' own rows,
  which have phase ``part`` and are not summarized here; the rules above then apply to the
  combined rows (a search's combined row has seed -1: it is no seed, and never a confirm seed).
  A combined row is not a training: the job's evaluation counters skip it.
* Confirm: the candidate's confirm set is every evaluation — of either phase — with the
  ``(task, steps)`` of its first confirm-phase evaluation. A search result with the same task,
  seed and steps is the same row (the unique key) and counts as one of the seeds.
  ``confirmed_seeds`` counts the ok results, ``confirmed_mean`` is their mean and
  ``confirmed_std`` their sample standard deviation (n - 1; None below two seeds). Confirm
  evaluations on other tasks or budgets are stored but summarized by the caller.

The job's counters follow: ``evaluations_done``, ``rejected`` and ``failed`` count finished
evaluations, ``candidates_done`` candidates no longer pending, ``best_fitness`` is the best
candidate search fitness.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from store._db import StoreError
from store._encode import check_finite
from store._jobs import execute_dml, lock_job
from store._leases import hold_lease
from store._models import (
    COMBINED,
    EVALUATION_PHASES,
    FAILED,
    FINISHED_RESULTS,
    OK,
    PENDING,
    PHASE_CONFIRM,
    PHASE_SEARCH,
    REJECTED,
    Candidate,
    Evaluation,
    Job,
    utcnow,
)


def _find(session: Session, candidate_id: int, task: str, seed: int, steps: int) -> Evaluation | None:
    query = select(Evaluation).where(
        Evaluation.candidate_id == candidate_id,
        Evaluation.task == task,
        Evaluation.seed == seed,
        Evaluation.steps == steps,
    )
    return session.scalar(query.execution_options(populate_existing=True))


def add_evaluation(
    *, session: Session, candidate_id: int, task: str, seed: int, steps: int, phase: str = PHASE_SEARCH
) -> tuple[Evaluation, bool]:
    """The evaluation of ``candidate_id`` on ``task`` with ``seed`` for ``steps``, created
    pending if it does not exist yet; the bool says whether it was created. An existing row is
    returned as it is (whatever its phase or status): its result is reused, never run again."""
    if phase not in EVALUATION_PHASES:
        raise ValueError(f"unknown phase {phase!r}; known: {', '.join(EVALUATION_PHASES)}")
    existing = _find(session, candidate_id, task, seed, steps)
    if existing is not None:
        return existing, False
    candidate = session.get(Candidate, candidate_id)
    if candidate is None:
        raise StoreError(f"candidate {candidate_id} does not exist")
    lock_job(session, candidate.job_id)  # then look again: another writer may have created it
    existing = _find(session, candidate_id, task, seed, steps)
    if existing is not None:
        return existing, False
    evaluation = Evaluation(
        job_id=candidate.job_id, candidate_id=candidate_id, task=task, seed=seed, steps=steps, phase=phase
    )
    session.add(evaluation)
    session.flush()
    return evaluation, True


def add_evaluations(*, session: Session, candidate_id: int, task: str, seeds: Sequence[int], steps: int,
                    phase: str = PHASE_SEARCH) -> list[Evaluation]:
    """:func:`add_evaluation` for each of ``seeds``: the rows, loaded whole and detached from the
    session, so that they can be read after it ends (a runner holds them while they train)."""
    rows = [add_evaluation(session=session, candidate_id=candidate_id, task=task, seed=seed, steps=steps,
                           phase=phase)[0] for seed in seeds]
    session.flush()
    for row in rows:
        session.refresh(row)  # a new row's server-side defaults too
    for row in set(rows):
        session.expunge(row)
    return rows


def finish_evaluation(
    *,
    session: Session,
    evaluation_id: int,
    status: str,
    fitness: float | None,
    metrics: dict[str, Any] | None,
    reason: str | None = None,
    detail: str | None = None,
    wall_time: float | None = None,
    worker: str | None = None,
    runner: str | None = None,
) -> Evaluation:
    """Stores a result and updates the candidate and the job (see the module docstring).

    With ``runner``, stores it only while that runner holds the job's lease, else raises
    :class:`LeaseLost`: a result that arrives after its runner gave the job up belongs to the
    runner that resumed it (which runs that evaluation again), so it is reported once.

    The first result wins: finishing an evaluation that is not pending anymore changes
    nothing and returns the stored row, so a result is never counted twice. ``fitness`` and
    ``wall_time`` must be finite or None; ``metrics`` may hold NaN and infinities.
    """
    if status not in FINISHED_RESULTS:
        raise ValueError(f"an evaluation finishes as one of {', '.join(FINISHED_RESULTS)}, not {status!r}")
    values = {
        "status": status,
        "fitness": check_finite("evaluations.fitness", fitness),
        "wall_time": check_finite("evaluations.wall_time", wall_time),
        "metrics": metrics if metrics is not None else {},
        "reason": reason,
        "detail": detail,
        "worker": worker,
        "finished_at": utcnow(),
    }
    evaluation = session.get(Evaluation, evaluation_id)
    if evaluation is None:
        raise StoreError(f"evaluation {evaluation_id} does not exist")
    job_id, candidate_id = evaluation.job_id, evaluation.candidate_id
    if runner is None:
        lock_job(session, job_id)
    else:
        hold_lease(session, job_id, runner)
    pending = update(Evaluation).where(Evaluation.id == evaluation_id, Evaluation.status == PENDING)
    if execute_dml(session, pending.values(**values)) == 1:
        candidate = session.get(Candidate, candidate_id, populate_existing=True)
        assert candidate is not None  # the foreign key (with cascade) guarantees it
        was_pending = candidate.status == PENDING
        _summarize(session, candidate)
        session.flush()
        best = select(func.max(Candidate.fitness)).where(Candidate.job_id == job_id).scalar_subquery()
        trained = 0 if evaluation.task == COMBINED else 1
        counters = (
            update(Job)
            .where(Job.id == job_id)
            .values(
                evaluations_done=Job.evaluations_done + trained,
                rejected=Job.rejected + (trained if status == REJECTED else 0),
                failed=Job.failed + (trained if status == FAILED else 0),
                candidates_done=Job.candidates_done
                + (1 if was_pending and candidate.status != PENDING else 0),
                best_fitness=best,
            )
        )
        execute_dml(session, counters)
    stored = session.get(Evaluation, evaluation_id, populate_existing=True)
    assert stored is not None
    return stored


def _summarize(session: Session, candidate: Candidate) -> None:
    evaluations = list(
        session.scalars(
            select(Evaluation)
            .where(Evaluation.candidate_id == candidate.id)
            .order_by(Evaluation.id)
            .execution_options(populate_existing=True)
        )
    )
    search = [e for e in evaluations if e.phase == PHASE_SEARCH and e.status != PENDING]
    verdicts = [e for e in search if e.status in (OK, REJECTED)]
    if verdicts:
        fidelity = max(e.steps for e in verdicts)
        top = [e for e in verdicts if e.steps == fidelity]
        fits = [e.fitness for e in top if e.status == OK and e.fitness is not None]
        candidate.fidelity = fidelity
        candidate.fitness = statistics.fmean(fits) if fits else None
        candidate.status = OK if any(e.status == OK for e in top) else REJECTED
    else:
        candidate.fidelity = candidate.fitness = None
        candidate.status = FAILED if search else PENDING

    confirm = [e for e in evaluations if e.phase == PHASE_CONFIRM]
    if not confirm:
        return
    key = (confirm[0].task, confirm[0].steps)
    seeds = [
        e.fitness
        for e in evaluations
        if (e.task, e.steps) == key and e.status == OK and e.fitness is not None
        and (e.phase == PHASE_CONFIRM or e.task != COMBINED)  # a search's combined row is no seed
    ]
    candidate.confirmed_seeds = len(seeds)
    candidate.confirmed_mean = statistics.fmean(seeds) if seeds else None
    candidate.confirmed_std = statistics.stdev(seeds) if len(seeds) >= 2 else None


def job_results(*, session: Session, job_id: int) -> list[tuple[Candidate, list[Evaluation]]]:
    """Every candidate of the job in order of proposal, each with its evaluations (oldest
    first), detached from the session: what a resumed runner rebuilds its search from."""
    candidates = list(session.scalars(select(Candidate).where(Candidate.job_id == job_id).order_by(Candidate.number)
                                      .execution_options(populate_existing=True)))
    evaluations = list(session.scalars(select(Evaluation).where(Evaluation.job_id == job_id).order_by(Evaluation.id)
                                       .execution_options(populate_existing=True)))
    by_candidate: dict[int, list[Evaluation]] = {c.id: [] for c in candidates}
    for evaluation in evaluations:
        by_candidate[evaluation.candidate_id].append(evaluation)
    for row in (*candidates, *evaluations):
        session.expunge(row)
    return [(c, by_candidate[c.id]) for c in candidates]


def list_evaluations(*, session: Session, candidate_id: int) -> list[Evaluation]:
    query = select(Evaluation).where(Evaluation.candidate_id == candidate_id).order_by(Evaluation.id)
    return list(session.scalars(query.execution_options(populate_existing=True)))


def population_sizes(*, session: Session, evaluations: Sequence[Evaluation]) -> dict[int, int]:
    """How many evaluations trained in one population (one batched network) with each of
    ``evaluations`` that trained, itself included, by evaluation id.

    The members of a population each store its wall time divided by their number, so they
    share the job, task, steps, worker and that exact float; two populations do not. A row that
    did not train (rejected before training, a combined score) has no wall time and no entry.
    """
    trained = [e for e in evaluations if e.wall_time and e.task != COMBINED]
    if not trained:
        return {}
    E = Evaluation
    key = (E.job_id, E.task, E.steps, E.worker, E.wall_time)
    query = (select(*key, func.count()).where(E.job_id.in_({e.job_id for e in trained}),
                                              E.wall_time.in_({e.wall_time for e in trained}))
             .group_by(*key))
    counts = {tuple(row[:5]): int(row[5]) for row in session.execute(query)}
    return {e.id: counts.get((e.job_id, e.task, e.steps, e.worker, e.wall_time), 1) for e in trained}
