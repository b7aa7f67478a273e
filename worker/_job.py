"""Running one job under a lease: restore, search, confirm, finish.

Crash safety rests on two rules. (1) Proposals and the controller state that made them are
stored in one transaction (``on_propose``), and every finished evaluation is written before the
controller hears of it; so after a ``kill -9`` the restored controller has proposed exactly the
stored candidates, and the candidates without a final result are the ones to run again.
(2) Evaluation rows are unique per candidate × task × seed × steps and get-or-created, so a
resumed job reuses every finished row and never trains one twice.
"""

from __future__ import annotations

import logging
import math
import statistics
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, wait
from typing import Any

from sqlalchemy import select

import store
from search import Controller, Result, SearchBudget, SearchSummary, make_controller, run_search
from space import Expr, fingerprint
from worker._describe import Describer, describe, known_match
from worker._dispatch import CandidateResult, Dispatcher, Work
from worker._executor import Executor
from worker.spec import JobSpec

log = logging.getLogger(__name__)

STOPPED = "stopped"


class JobRun:
    """One claimed job. ``should_stop()`` turns True on cancel, shutdown or a lost lease;
    ``active()`` is False once the lease is lost (then nothing more is written)."""

    def __init__(self, *, database: store.Database, executor: Executor, job_id: int, device: str = "cpu",
                 should_stop: Callable[[], bool], active: Callable[[], bool], runner: str) -> None:
        self.database = database
        self.executor = executor
        self.job_id = job_id
        self.runner = runner
        self.should_stop = should_stop
        self.active = active
        self.dispatcher = Dispatcher(database=database, executor=executor, job_id=job_id, device=device,
                                     active=active, runner=runner)
        with database.session() as session:
            job = store.get_job(session=session, job_id=job_id)
            assert job is not None, f"job {job_id} vanished"
            self.spec = JobSpec.from_json(job.spec)
            self.state = job.controller_state
            self.elapsed = job.elapsed_seconds or 0.0
            self.phase = job.phase or "search"
        self.rungs = self.spec.rungs()
        self.candidate_ids: dict[str, int] = {}
        self.describer = Describer(database, active=active, log_extra=self.ids())
        self.started = time.monotonic()

    # -- the whole job
    def run(self) -> str | None:
        """Runs the job to its end; returns the final status, or None when it stopped early
        (cancelled jobs return "cancelled")."""
        try:
            if self.phase == "search":
                summary = self.search()
                if summary is None:
                    return None
                # why the search ended stays on the job (GET /jobs/{id}'s stop_reason), not only in its events
                self.save(phase="confirm", summary={"stop": summary.stop, "candidates": summary.candidates})
                self.event("phase", {"phase": "confirm", "stop": summary.stop, "candidates": summary.candidates})
            if not self.confirm():
                return None
        finally:
            self.describer.close(wait=self.active() and not self.should_stop())
        return store.JOB_COMPLETED

    def ids(self, **more: Any) -> dict[str, Any]:
        """The ``extra=`` of this job's log records (see api/_logging.py)."""
        return {"job_id": self.job_id, "runner": self.runner, **more}

    def elapsed_now(self) -> float:
        return self.elapsed + (time.monotonic() - self.started)

    # -- search phase
    def search(self) -> SearchSummary | None:
        spec = self.spec
        controller = make_controller(spec.controller.kind, spec.space.to_space(), seed=spec.seed,
                                     params=spec.controller.params)
        if self.state is not None:
            controller.load_state_dict(self.state)
        pending, stored = self.restore(controller)
        in_flight = spec.budget.in_flight or max(1, self.executor.capacity // spec.task.seeds)
        seconds = None if spec.budget.seconds is None else max(1e-3, spec.budget.seconds - self.elapsed)
        budget = SearchBudget(candidates=max(0, spec.budget.candidates - stored), seconds=seconds,
                              in_flight=in_flight)
        scheduler = self.scheduler()

        def on_propose(exprs: list[Expr]) -> None:
            rows = [describe(expr) for expr in exprs]
            with self.database.session() as session:
                added = [store.add_candidate(session=session, job_id=self.job_id, **row) for row in rows]
                session.flush()
                for row, candidate in zip(rows, added, strict=True):
                    self.candidate_ids[row["fingerprint"]] = candidate.id
                    self.describer.submit(candidate.id, row["expr_json"])
                store.save_progress(session=session, job_id=self.job_id, controller_state=controller.state_dict(),
                                    elapsed_seconds=self.elapsed_now())
                store.append_event(session=session, job_id=self.job_id, kind="proposed", data={
                    "candidates": [{"id": c.id, "number": c.number, "expression": c.expression} for c in added]})
            for candidate in added:
                log.info("proposed candidate %s: %s", candidate.number, candidate.expression,
                         extra=self.ids(candidate_id=candidate.id))

        def on_result(expr: Expr, result: CandidateResult) -> None:
            if not self.active():
                return
            with self.database.session() as session:
                store.save_progress(session=session, job_id=self.job_id, controller_state=controller.state_dict(),
                                    elapsed_seconds=self.elapsed_now())
                store.append_event(session=session, job_id=self.job_id, kind="candidate", data={
                    "candidate_id": self.candidate_ids.get(fingerprint(expr)), "expression": str(expr),
                    "fitness": result.fitness, "status": result.status, "reason": result.reason})

        summary = run_search(spec.space.to_space(), controller, self.evaluate, budget, on_result,
                             scheduler=scheduler, pending=pending, on_propose=on_propose,
                             stop=self.should_stop)
        if summary.stop == STOPPED:
            self.dispatcher.cancel_outstanding()
            return None
        return summary

    def restore(self, controller: Controller) -> tuple[list[tuple[Expr, int]], int]:
        """After a crash: tells the controller every stored final result it missed and lists
        the candidates to evaluate again (with their rung). Returns (pending, stored count)."""
        pending: list[tuple[Expr, int]] = []
        candidates = self.stored_candidates()
        for candidate, evaluations in candidates:
            expr = Expr.from_json(candidate.expr_json)
            self.candidate_ids[candidate.fingerprint] = candidate.id
            if not candidate.canonical:
                self.describer.submit(candidate.id, candidate.expr_json)
            search = [e for e in evaluations if e.phase == "search"]
            top = max((e.steps for e in search), default=None)
            at_top = [e for e in search if e.steps == top]
            if top is None or any(e.status == store.PENDING for e in at_top) or len(at_top) < self.spec.task.seeds:
                pending.append((expr, self.rung_of(top)))
            else:
                rows = [(e.status, e.fitness, e.reason) for e in at_top]
                controller.tell([Result(expr, CandidateResult.of(rows, candidate.cost).fitness, candidate.cost)])
        if candidates:
            log.info("job %s resumes: %d candidates stored, %d to evaluate again", self.job_id,
                     len(candidates), len(pending), extra=self.ids())
        return pending, len(candidates)

    def scheduler(self) -> Any:
        if len(self.spec.fidelity.rungs) < 2:
            return None
        from evaluator import AshaScheduler

        asha = AshaScheduler(rungs=self.rungs, eta=self.spec.fidelity.eta)
        for candidate, evaluations in self.stored_candidates():  # replay, so promotions resume too
            for rung, steps in enumerate(self.rungs):
                rows = [e for e in evaluations if e.phase == "search" and e.steps == steps]
                if rung > 0 and rows:
                    asha.promote(candidate.fingerprint, rung - 1)
                if rows and all(e.status != store.PENDING for e in rows):
                    fitness = CandidateResult.of([(e.status, e.fitness, e.reason) for e in rows], None).fitness
                    asha.report(candidate.fingerprint, rung, fitness)
        return asha

    def rung_of(self, steps: int | None) -> int:
        return 0 if steps is None or steps not in self.rungs else self.rungs.index(steps)

    def evaluate(self, expr: Expr, rung: int = 0) -> Future[CandidateResult]:
        candidate_id = self.candidate_ids[fingerprint(expr)]
        task = self.spec.task
        rows = self.dispatcher.rows(candidate_id, task=task.name, seeds=range(task.seeds), steps=self.rungs[rung],
                                    phase="search")
        if len(self.rungs) < 2:
            return self.submit(expr, rows, task.options, expr.cost)
        # every rung trains a stretch of the last rung's schedule; a promotion continues from
        # the rung below's checkpoint where the worker has it
        return self.submit(expr, rows, task.options, expr.cost, horizon=self.rungs[-1],
                           resume_from=self.rungs[rung - 1] if rung > 0 else None)

    def submit(self, expr: Expr, rows: list[store.Evaluation], options: dict[str, Any], cost: float | None,
               horizon: int | None = None, resume_from: int | None = None) -> Future[CandidateResult]:
        work = [Work(r.id, str(expr), r.task, options, r.seed, r.steps, horizon, resume_from, self.spec.task.precision,
                     self.spec.rejection.to_json())
                for r in rows if r.status == store.PENDING]
        finished = [(r.status, r.fitness, r.reason) for r in rows if r.status != store.PENDING]
        return self.dispatcher.gather(work, finished, cost)

    # -- confirm phase
    def confirm(self) -> bool:
        """Re-evaluates the search's top-k with more seeds (and on the transfer tasks), then
        ranks them by the confirmed mean. Returns False when stopped early."""
        spec, confirm = self.spec, self.spec.confirm
        top = self.top_candidates(confirm.top_k)
        tasks = [(spec.task.name, spec.task.options, confirm.steps or self.rungs[-1])]
        for name in confirm.tasks:
            from evaluator import get_task

            tasks.append((name, {}, confirm.steps or get_task(name).budget.steps))
        futures: list[Future[CandidateResult]] = []
        for candidate in top:
            expr = Expr.from_json(candidate.expr_json)
            for name, options, steps in tasks:
                rows = self.dispatcher.rows(candidate.id, task=name, seeds=range(confirm.seeds), steps=steps,
                                            phase="confirm")
                futures.append(self.submit(expr, rows, options, candidate.cost))
        if futures:
            log.info("confirming %d candidates with %d seeds on %s", len(top), confirm.seeds,
                     ", ".join(t[0] for t in tasks), extra=self.ids())
            self.event("confirm", {"candidates": [c.id for c in top], "seeds": confirm.seeds,
                                   "tasks": [t[0] for t in tasks]})
        waiting = set(futures)
        while waiting:
            if self.should_stop():
                self.dispatcher.cancel_outstanding()
                return False
            _, waiting = wait(waiting, timeout=0.5, return_when=FIRST_COMPLETED)
        for candidate in top:
            self.settle(candidate, tasks)
        return True

    def settle(self, candidate: store.Candidate, tasks: list[tuple[str, dict[str, Any], int]]) -> None:
        """Stores the confirmed fitness (primary task) and transfer results, and names the
        known function the candidate is, with fitted parameters."""
        match = known_match(Expr.from_json(candidate.expr_json))
        seeds = range(self.spec.confirm.seeds)
        with self.database.session() as session:
            row = session.get(store.Candidate, candidate.id)
            assert row is not None
            transfer: dict[str, Any] = {}
            for index, (name, _, steps) in enumerate(tasks):
                values = session.scalars(select(store.Evaluation.fitness).where(
                    store.Evaluation.candidate_id == row.id, store.Evaluation.task == name,
                    store.Evaluation.steps == steps, store.Evaluation.seed.in_(list(seeds)),
                    store.Evaluation.status == store.OK)).all()
                finite = [v for v in values if v is not None and math.isfinite(v)]
                mean = statistics.fmean(finite) if finite else None
                std = statistics.stdev(finite) if len(finite) > 1 else (0.0 if finite else None)
                if index == 0:
                    row.confirmed_mean, row.confirmed_std, row.confirmed_seeds = mean, std, len(finite)
                else:
                    transfer[name] = {"mean": mean, "std": std, "seeds": len(finite), "steps": steps}
            if match is not None:
                row.known_as, row.known_params = match
            props = dict(row.properties or {})
            if transfer:
                props["transfer"] = transfer
                row.properties = props

    def top_candidates(self, k: int) -> list[store.Candidate]:
        if k <= 0:
            return []
        with self.database.session() as session:
            rows = session.scalars(
                select(store.Candidate).where(store.Candidate.job_id == self.job_id,
                                              store.Candidate.status == store.OK,
                                              store.Candidate.fitness.is_not(None))
                .order_by(store.Candidate.fitness.desc(), store.Candidate.number).limit(k)).all()
            session.expunge_all()
        return list(rows)

    # -- helpers
    def stored_candidates(self) -> list[tuple[store.Candidate, list[store.Evaluation]]]:
        with self.database.session() as session:
            candidates = session.scalars(select(store.Candidate).where(store.Candidate.job_id == self.job_id)
                                         .order_by(store.Candidate.number)).all()
            evaluations = session.scalars(select(store.Evaluation).where(store.Evaluation.job_id == self.job_id)).all()
            session.expunge_all()
        by_candidate: dict[int, list[store.Evaluation]] = {c.id: [] for c in candidates}
        for evaluation in evaluations:
            by_candidate[evaluation.candidate_id].append(evaluation)
        return [(c, by_candidate[c.id]) for c in candidates]

    def save(self, **changes: Any) -> None:
        if not self.active():
            return
        with self.database.session() as session:
            store.save_progress(session=session, job_id=self.job_id, elapsed_seconds=self.elapsed_now(), **changes)

    def event(self, kind: str, data: dict[str, Any]) -> None:
        if not self.active():
            return
        with self.database.session() as session:
            store.append_event(session=session, job_id=self.job_id, kind=kind, data=data)
