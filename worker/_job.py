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
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass
from typing import Any

import store
from search import Controller, Result, SearchBudget, SearchSummary, make_controller, run_search
from space import Expr, fingerprint, parse
from worker import _scoring
from worker._describe import Describer, describe, known_match
from worker._dispatch import Dispatcher
from worker._eta import ConfirmClock
from worker._executor import Executor
from worker._request import EvalRequest
from worker._result import CandidateResult, EvalOutcome
from worker.spec import JobSpec, TaskSpec

log = logging.getLogger(__name__)

STOPPED = "stopped"
SEARCH_SEED = -1  # of a search's combined row: a score over every task's seeds, not one seed's


@dataclass(frozen=True)
class Baseline:
    """A function trained beside the candidates (``JobSpec.baselines``), stored as a candidate."""

    name: str
    expr: Expr
    candidate_id: int


@dataclass(frozen=True)
class ConfirmTask:
    """One task of the confirm phase: ``scored`` tasks make the combined score."""

    spec: TaskSpec
    steps: int
    scored: bool


class JobRun:
    """One claimed job. ``should_stop()`` turns True on cancel, shutdown or a lost lease;
    ``active()`` is False once the lease is lost (then nothing more is written).

    Baselines (``spec.baselines``) are candidates of the job that the controller never hears
    of: trained on every task, seed and fidelity that candidates are, submitted together with the
    first candidates that need them (so they share their populations), and re-evaluated in the
    confirm phase beside the top-k. In a job scored on several tasks each task's fitness is
    normalised against the baselines' mean there, then aggregated (:mod:`worker._scoring`)."""

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
            self.summary: dict[str, Any] = dict(job.summary or {})
        self.rungs = self.spec.rungs()
        self.candidate_ids: dict[str, int] = {}
        self.describer = Describer(database, active=active, log_extra=self.ids())
        self.started = time.monotonic()
        self.baselines: list[Baseline] = []
        self._baseline_runs: dict[tuple[str, int], list[Future[CandidateResult]]] = {}
        self._lock = threading.Lock()

    # -- the whole job
    def run(self) -> str | None:
        """Runs the job to its end; returns the final status, or None when it stopped early
        (cancelled jobs return "cancelled")."""
        try:
            self.baselines = self.add_baselines()
            if self.phase == "search":
                summary = self.search()
                if summary is None:
                    return None
                # why the search ended stays on the job (GET /jobs/{id}'s stop_reason), not only in its events
                self.summary.update(stop=summary.stop, candidates=summary.candidates)
                self.save(phase="confirm", summary=self.summary)
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

    # -- baselines
    def add_baselines(self) -> list[Baseline]:
        """Stores the baselines as candidates (again after a resume: the same rows) and names
        them in the job's summary, where the API finds them."""
        baselines = []
        for text in self.spec.baselines:
            expr = parse(text)
            row = describe(expr)
            with self.database.session() as session:
                candidate = store.add_candidate(session=session, job_id=self.job_id, **row)
                candidate_id = candidate.id
                if not candidate.canonical:
                    self.describer.submit(candidate_id, row["expr_json"])
            self.candidate_ids[row["fingerprint"]] = candidate_id
            baselines.append(Baseline(row["known_as"] or text, expr, candidate_id))
        listed = [{"name": b.name, "expression": str(b.expr), "candidate_id": b.candidate_id} for b in baselines]
        if listed and self.summary.get("baselines") != listed:
            self.summary["baselines"] = listed
            self.save(summary=self.summary)
        return baselines

    def baseline_ids(self) -> set[int]:
        return {b.candidate_id for b in self.baselines}

    def proposed_baselines(self) -> list[int]:
        """The baselines the controller proposed itself (their row is the baseline's): they
        count against its budget and are told to it on a resume."""
        return list(self.summary.get("proposed_baselines", []))

    def baseline_runs(self, task: TaskSpec, rung: int) -> list[Future[CandidateResult]]:
        """The baselines' results on ``task`` at ``rung``, submitted the first time they are asked for."""
        with self._lock:
            key = (task.name, rung)
            if key not in self._baseline_runs:
                phase = store.PHASE_PART if self.spec.tasks else store.PHASE_SEARCH
                self._baseline_runs[key] = [self.train_rung(b.expr, b.candidate_id, task, rung, phase)
                                            for b in self.baselines]
            return self._baseline_runs[key]

    def part(self, expr: Expr, candidate_id: int, task: TaskSpec, rung: int, phase: str) -> Future[CandidateResult]:
        """``candidate_id`` trained on ``task`` at ``rung`` — a baseline's own run when it is one
        (the controller may propose a baseline: the same rows, trained once)."""
        for index, baseline in enumerate(self.baselines):
            if baseline.candidate_id == candidate_id:
                return self.baseline_runs(task, rung)[index]
        return self.train_rung(expr, candidate_id, task, rung, phase)

    # -- search phase
    def search(self) -> SearchSummary | None:
        spec = self.spec
        space = spec.space.to_space()
        controller = make_controller(spec.controller.kind, space, seed=spec.seed, params=spec.controller.params)
        if self.state is not None:
            controller.load_state_dict(self.state)
        pending, stored = self.restore(controller)
        seeds = sum(task.seeds for task in spec.scored_tasks)
        in_flight = spec.budget.in_flight or max(1, self.executor.capacity // seeds)
        seconds = None if spec.budget.seconds is None else max(1e-3, spec.budget.seconds - self.elapsed)
        budget = SearchBudget(candidates=max(0, spec.budget.candidates - stored), seconds=seconds,
                              in_flight=in_flight)
        scheduler = self.scheduler()
        top = len(self.rungs) - 1
        for baseline in self.baselines:  # with the first candidates: the same populations
            self.evaluate(baseline.expr, top)

        def on_propose(exprs: list[Expr]) -> None:
            rows = [describe(expr) for expr in exprs]
            with self.database.session() as session:
                added = [store.add_candidate(session=session, job_id=self.job_id, **row) for row in rows]
                for row, candidate in zip(rows, added, strict=True):
                    self.candidate_ids[row["fingerprint"]] = candidate.id
                    self.describer.submit(candidate.id, row["expr_json"])
                proposed = sorted({c.id for c in added} & self.baseline_ids() | set(self.proposed_baselines()))
                if proposed != self.proposed_baselines():  # a baseline the controller proposed is its candidate too
                    self.summary["proposed_baselines"] = proposed
                store.save_progress(session=session, job_id=self.job_id, controller_state=controller.state_dict(),
                                    elapsed_seconds=self.elapsed_now(), summary=self.summary if proposed else None)
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

        summary = run_search(space, controller, self.evaluate, budget, on_result,
                             scheduler=scheduler, pending=pending, on_propose=on_propose,
                             stop=self.should_stop)
        if summary.stop == STOPPED:
            self.dispatcher.cancel_outstanding()
            return None
        return summary

    def restore(self, controller: Controller) -> tuple[list[tuple[Expr, int]], int]:
        """After a crash: tells the controller every stored final result it missed and lists
        the candidates to evaluate again (with their rung). Returns (pending, stored count);
        baselines are neither, unless the controller proposed one itself."""
        pending: list[tuple[Expr, int]] = []
        proposed = set(self.proposed_baselines())
        candidates = [(c, e) for c, e in self.stored_candidates()
                      if c.id not in self.baseline_ids() or c.id in proposed]
        expected = 1 if self.spec.tasks else self.spec.task.seeds  # combined rows: one per rung
        for candidate, evaluations in candidates:
            expr = Expr.from_json(candidate.expr_json)
            self.candidate_ids[candidate.fingerprint] = candidate.id
            if not candidate.canonical:
                self.describer.submit(candidate.id, candidate.expr_json)
            search = [e for e in evaluations if e.phase == store.PHASE_SEARCH]
            top = max((e.steps for e in search), default=None)
            at_top = [e for e in search if e.steps == top]
            if top is None or any(e.status == store.PENDING for e in at_top) or len(at_top) < expected:
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
            if candidate.id in self.baseline_ids() and candidate.id not in self.proposed_baselines():
                continue
            for rung, steps in enumerate(self.rungs):
                rows = [e for e in evaluations if e.phase == store.PHASE_SEARCH and e.steps == steps]
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
        if not self.spec.tasks:
            return self.part(expr, candidate_id, self.spec.task, rung, store.PHASE_SEARCH)
        return self.combined(expr, candidate_id, rung)

    def train_rung(self, expr: Expr, candidate_id: int, task: TaskSpec, rung: int, phase: str
                   ) -> Future[CandidateResult]:
        steps = self.spec.steps_of(task, self.rungs[rung])
        rows = self.dispatcher.rows(candidate_id, task=task.name, seeds=range(task.seeds), steps=steps, phase=phase)
        if len(self.rungs) < 2:
            return self.submit(expr, rows, task, expr.cost)
        # every rung trains a stretch of the last rung's schedule; a promotion continues from
        # the rung below's checkpoint where the worker has it
        return self.submit(expr, rows, task, expr.cost, horizon=self.spec.steps_of(task, self.rungs[-1]),
                           resume_from=self.spec.steps_of(task, self.rungs[rung - 1]) if rung > 0 else None)

    def combined(self, expr: Expr, candidate_id: int, rung: int) -> Future[CandidateResult]:
        """A multi-task score: the tasks in order, each normalised against the baselines' mean
        on it once both are back; a task whose hurdle is missed stops the candidate there
        (rejected, reason ``hurdle``). The score is stored as the candidate's combined row."""
        result: Future[CandidateResult] = Future()
        result.set_running_or_notify_cancel()
        tasks = self.spec.scored_tasks
        scores: dict[str, float] = {}

        def stage(index: int) -> None:
            task = tasks[index]
            part = self.part(expr, candidate_id, task, rung, store.PHASE_PART)
            references = self.baseline_runs(task, rung)
            _when_all([part, *references], lambda: guarded(scored, index, part, references))

        def scored(index: int, part: Future[CandidateResult], references: list[Future[CandidateResult]]) -> None:
            task, outcome = tasks[index], part.result()
            if outcome.fitness is None:
                finish(outcome.status, None, f"{task.name}: {outcome.reason}")
                return
            score = _scoring.normalised(outcome.fitness, _scoring.reference([f.result().fitness for f in references]))
            scores[task.name] = score
            if task.hurdle is not None and score < task.hurdle:
                finish(store.REJECTED, None, f"hurdle: {task.name} scored {score:+.4f}, below {task.hurdle:+.4f}")
            elif index + 1 < len(tasks):
                stage(index + 1)
            else:
                finish(store.OK, _scoring.aggregate([(scores[t.name], t.weight) for t in tasks], self.spec.aggregate),
                       None)

        def finish(status: str, fitness: float | None, reason: str | None) -> None:
            self.record_combined(candidate_id, self.rungs[rung], SEARCH_SEED, store.PHASE_SEARCH, status, fitness, reason,
                                 {f"score_{name}": value for name, value in scores.items()})
            result.set_result(CandidateResult(fitness, expr.cost, status, reason, (fitness,)))

        def guarded(step: Callable[..., None], *args: Any) -> None:
            try:
                step(*args)
            except BaseException as exc:  # noqa: BLE001 — the loop must hear of it, not hang
                log.exception("scoring candidate %s failed", candidate_id, extra=self.ids(candidate_id=candidate_id))
                if not result.done():
                    result.set_exception(exc)

        guarded(stage, 0)
        return result

    def record_combined(self, candidate_id: int, steps: int, seed: int, phase: str, status: str,
                        fitness: float | None, reason: str | None, metrics: dict[str, float]) -> None:
        (row,) = self.dispatcher.rows(candidate_id, task=store.COMBINED, seeds=[seed], steps=steps, phase=phase)
        if row.status == store.PENDING:  # else written before a resume: the first result stands
            self.dispatcher.record(EvalOutcome(key=str(row.id), status=status, fitness=fitness, metrics=metrics,
                                               reason=reason, steps=steps))

    def submit(self, expr: Expr, rows: list[store.Evaluation], task: TaskSpec, cost: float | None,
               horizon: int | None = None, resume_from: int | None = None) -> Future[CandidateResult]:
        requests = [EvalRequest(key=str(r.id), expression=str(expr), task=r.task, task_options=task.options,
                                seed=r.seed, steps=r.steps, device=self.dispatcher.device, horizon=horizon,
                                resume_from=resume_from, precision=task.precision,
                                rejection=self.spec.rejection.to_json())
                    for r in rows if r.status == store.PENDING]
        finished = [(r.status, r.fitness, r.reason) for r in rows if r.status != store.PENDING]
        return self.dispatcher.gather(requests, finished, cost)

    # -- confirm phase
    def confirm(self) -> bool:
        """Re-evaluates the search's top-k and the baselines with more seeds on every scored
        task and on the transfer tasks; a multi-task job's combined score per seed follows.
        Each candidate then gets its confirmed score and a transfer verdict. Returns False
        when stopped early."""
        confirm = self.spec.confirm
        top = self.top_candidates(confirm.top_k)
        everyone = [*top, *self.stored(self.baseline_ids())] if top else []
        tasks = self.confirm_tasks()
        phase = store.PHASE_PART if self.spec.tasks else store.PHASE_CONFIRM
        futures: dict[Future[CandidateResult], int] = {}  # -> the evaluations (seeds) it trains
        for candidate in everyone:
            expr = Expr.from_json(candidate.expr_json)
            for task in tasks:
                rows = self.dispatcher.rows(candidate.id, task=task.spec.name, seeds=range(confirm.seeds),
                                            steps=task.steps, phase=phase)
                futures[self.submit(expr, rows, task.spec, candidate.cost)] = len(rows)
        if futures:
            log.info("confirming %d candidates and %d baselines with %d seeds on %s", len(top), len(self.baselines),
                     confirm.seeds, ", ".join(t.spec.name for t in tasks), extra=self.ids())
            self.event("confirm", {"candidates": [c.id for c in top], "baselines": sorted(self.baseline_ids()),
                                   "seeds": confirm.seeds, "tasks": [t.spec.name for t in tasks]})
        clock = ConfirmClock(sum(futures.values()), self.elapsed_now(), sum(n for f, n in futures.items() if f.done()))
        waiting, reported = set(futures), -1
        while waiting:
            if self.should_stop():
                self.dispatcher.cancel_outstanding()
                return False
            _, waiting = wait(waiting, timeout=0.5, return_when=FIRST_COMPLETED)
            done = clock.total - sum(futures[f] for f in waiting)
            if done != reported:  # the estimate the API and the dashboard show
                reported, self.summary["confirm"] = done, clock.progress(done, self.elapsed_now())
                self.save(summary=self.summary)
        if not everyone:
            return True
        # the descriptions (properties) land before the verdicts join them
        self.describer.close(wait=self.active() and not self.should_stop())
        results = self.confirm_results([c.id for c in everyone], tasks)
        if self.spec.tasks:
            self.combine_confirmed(everyone, tasks, results)
        for candidate in everyone:
            self.settle(candidate, tasks, results)
        return True

    def confirm_tasks(self) -> list[ConfirmTask]:
        confirm = self.spec.confirm
        steps = confirm.steps or self.rungs[-1]  # of the first task; the others scale with it
        tasks = [ConfirmTask(task, self.spec.steps_of(task, steps), True) for task in self.spec.scored_tasks]
        for name in confirm.tasks:
            extra = TaskSpec(name=name, precision=self.spec.primary.precision)
            tasks.append(ConfirmTask(extra, confirm.steps or extra.default_steps(), False))
        return tasks

    def confirm_results(self, candidate_ids: list[int], tasks: list[ConfirmTask]
                        ) -> dict[tuple[int, str], list[tuple[str, float | None, str | None]]]:
        """(candidate, task) -> the confirm seeds' (status, fitness, reason), in seed order."""
        seeds = range(self.spec.confirm.seeds)
        out = {}
        with self.database.session() as session:
            for task in tasks:
                found = store.evaluation_results(session=session, candidate_ids=candidate_ids, task=task.spec.name,
                                                 steps=task.steps, seeds=seeds)
                out.update({(candidate_id, task.spec.name): rows for candidate_id, rows in found.items()})
        return out

    def combine_confirmed(self, candidates: Sequence[store.Candidate], tasks: list[ConfirmTask],
                          results: dict[tuple[int, str], list[tuple[str, float | None, str | None]]]) -> None:
        """Per seed, the combined score of each candidate on the scored tasks, against the
        baselines' confirmed means; stored as combined confirm rows (the store's confirmed
        mean and spread over seeds follow)."""
        scored = [t for t in tasks if t.scored]
        references = {t.spec.name: _scoring.reference([_seeds(results, b, t).mean for b in self.baseline_ids()])
                      for t in scored}
        for candidate in candidates:
            for seed in range(self.spec.confirm.seeds):
                status, fitness, reason = store.OK, None, None
                scores: list[tuple[float, float]] = []
                for task in scored:
                    row_status, value, why = results[(candidate.id, task.spec.name)][seed]
                    if row_status != store.OK or value is None:
                        status, reason = row_status, f"{task.spec.name}: {why or 'no fitness'}"
                        break
                    scores.append((_scoring.normalised(value, references[task.spec.name]), task.spec.weight))
                if status == store.OK:
                    fitness = _scoring.aggregate(scores, self.spec.aggregate)
                self.record_combined(candidate.id, scored[0].steps, seed, store.PHASE_CONFIRM, status, fitness,
                                     reason, {})

    def settle(self, candidate: store.Candidate, tasks: list[ConfirmTask],
               results: dict[tuple[int, str], list[tuple[str, float | None, str | None]]]) -> None:
        """Stores the confirmed score of a one-task job (a multi-task job's comes from its
        combined rows), the transfer verdict (every confirm task against the baselines; not
        for the baselines themselves) and the known function the candidate is, with fitted
        parameters."""
        match = known_match(Expr.from_json(candidate.expr_json))
        confirmed = None
        if not self.spec.tasks:  # the first task's seeds: the store's own guess may be a transfer task's
            seeds = _seeds(results, candidate.id, tasks[0])
            confirmed = (seeds.mean, seeds.std if seeds.finite else None, len(seeds.finite))
        verdict = None
        if self.baselines and candidate.id not in self.baseline_ids():
            verdict = _scoring.verdict({
                task.spec.name: (_seeds(results, candidate.id, task),
                                 {b.name: _seeds(results, b.candidate_id, task) for b in self.baselines})
                for task in tasks})
            log.info("candidate %s: %s", candidate.number, verdict["summary"], extra=self.ids(candidate_id=candidate.id))
        with self.database.session() as session:
            store.settle_candidate(session=session, candidate_id=candidate.id, known=match, confirmed=confirmed,
                                   verdict=verdict)

    def top_candidates(self, k: int) -> list[store.Candidate]:
        """The search's best ``k`` candidates, baselines aside."""
        if k <= 0:
            return []
        with self.database.session() as session:
            rows = store.best_candidates(session=session, job_id=self.job_id, limit=k + len(self.baselines))
        return [row for row in rows if row.id not in self.baseline_ids()][:k]

    # -- helpers
    def stored(self, ids: set[int]) -> list[store.Candidate]:
        with self.database.session() as session:
            rows = [store.get_candidate(session=session, candidate_id=i) for i in sorted(ids)]
            session.expunge_all()
        return [row for row in rows if row is not None]

    def stored_candidates(self) -> list[tuple[store.Candidate, list[store.Evaluation]]]:
        with self.database.session() as session:
            return store.job_results(session=session, job_id=self.job_id)

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


def _seeds(results: dict[tuple[int, str], list[tuple[str, float | None, str | None]]], candidate_id: int,
           task: ConfirmTask) -> _scoring.Seeds:
    rows = results.get((candidate_id, task.spec.name), [])
    reason = next((why or status for status, _, why in rows if status != store.OK), None)
    return _scoring.Seeds(tuple(value if status == store.OK else None for status, value, _ in rows), reason)


def _when_all(futures: Sequence[Future[Any]], then: Callable[[], None]) -> None:
    """Calls ``then()`` once every future is done, on the thread that finished the last one."""
    remaining = [len(futures)]
    lock = threading.Lock()

    def arrived(_: Future[Any]) -> None:
        with lock:
            remaining[0] -= 1
            last = remaining[0] == 0
        if last:
            then()

    for future in futures:
        future.add_done_callback(arrived)
