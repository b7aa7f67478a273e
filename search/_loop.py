"""The search loop: a controller, an injected evaluator, a budget — several evaluations in flight.

``run_search`` keeps up to ``budget.in_flight`` evaluations running, takes their results in
whatever order they finish, tells the controller, and calls ``on_result`` for every one (the
runner persists it and checkpoints ``controller.state_dict()`` there). It never trains:
``evaluate(expr)`` returns a :class:`concurrent.futures.Future` of an :class:`Evaluation` (any
object with ``fitness``, higher is better, None for rejected/failed; and optionally ``cost``),
so a thread pool, a process pool or Ray futures wrapped as ``concurrent`` futures all fit.

Multi-fidelity (optional): with a ``scheduler`` — :class:`evaluator.AshaScheduler` or anything
with the same ``rungs``/``report``/``promotable``/``promote`` — the loop calls
``evaluate(expr, rung)``. New candidates start at rung 0; after each result the scheduler is
asked what is promotable, and promotions take free slots *before* new candidates (ASHA's
``get_job``, Li et al. 2018, "A System for Massively Parallel Hyperparameter Tuning"). The
controller is told one result per candidate: at the top rung, or at the rung where it stopped,
i.e. as soon as it is neither running nor waiting for promotion. A candidate that ASHA promotes
later (when more results make it qualify) still trains on, but the controller keeps the value it
was told; ``on_result`` sees every rung.

Resuming (the runner after a crash): ``pending`` lists (expression, rung) evaluations that were
proposed before the crash but never finished; they are launched first and do not count against
``candidates``. ``on_propose(exprs)`` is called right after each ``ask`` and before any of them
is launched, so the runner can store the proposals and the controller's state together.
``stop()`` is polled (at least every ``poll`` seconds): when it returns True the loop returns at
once (stop "stopped"), abandoning the evaluations in flight — e.g. when a user cancels the job;
the caller cancels them on its executor.

Budgets: ``candidates`` caps new candidates (promotions are part of evaluating them and do not
count); ``seconds`` stops new work at the deadline, cancels evaluations that have not started,
and lets running ones finish (so the overrun is at most one evaluation). Exceptions from
``evaluate`` or a future propagate after the remaining futures are cancelled: turning a failed
training into ``fitness=None`` is the evaluator's job.

Example:
    >>> from concurrent.futures import ThreadPoolExecutor
    >>> from search import Result, make_controller
    >>> from space import Space
    >>> space = Space(unary=("x", "sigmoid", "tanh"), binary=("mul", "add"))
    >>> pool = ThreadPoolExecutor(2)
    >>> summary = run_search(space, make_controller("random", space), lambda e: pool.submit(
    ...     Result, e, float(e.size)), SearchBudget(candidates=5, in_flight=2))
    >>> summary.candidates, summary.stop
    (5, 'candidates')
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass
from typing import Any, Protocol

from search._base import Controller, Result
from space import Expr, Space, fingerprint


class Evaluation(Protocol):
    """What an evaluation's future returns: :class:`~search.Result` is one. ``cost`` is read
    with ``getattr`` and may be absent."""

    @property
    def fitness(self) -> float | None: ...


class Scheduler(Protocol):
    """Multi-fidelity bookkeeping, as :class:`evaluator.AshaScheduler` keeps it."""

    @property
    def rungs(self) -> tuple[int, ...]: ...

    def report(self, candidate: str, rung: int, fitness: float | None) -> None: ...

    def promotable(self) -> list[tuple[str, int]]: ...

    def promote(self, candidate: str, rung: int) -> None: ...


class _OneFidelity:
    """The null scheduler: one rung, nothing ever promoted."""

    rungs = (0,)

    def report(self, candidate: str, rung: int, fitness: float | None) -> None:
        pass

    def promotable(self) -> list[tuple[str, int]]:
        return []

    def promote(self, candidate: str, rung: int) -> None:
        pass


def _one_rung(evaluate: Callable[[Expr], Future[Any]]) -> Callable[[Expr, int], Future[Any]]:
    return lambda expr, rung: evaluate(expr)


@dataclass(frozen=True)
class SearchBudget:
    """``candidates``: new candidates to evaluate; ``seconds``: wall time (None: no limit);
    ``in_flight``: evaluations running at once."""

    candidates: int
    seconds: float | None = None
    in_flight: int = 1

    def __post_init__(self) -> None:
        if isinstance(self.candidates, bool) or not isinstance(self.candidates, int) or self.candidates < 0:
            raise ValueError(f"budget candidates must be an integer >= 0, got {self.candidates!r}")
        if self.seconds is not None and not self.seconds > 0:
            raise ValueError(f"budget seconds must be > 0 or None, got {self.seconds!r}")
        if isinstance(self.in_flight, bool) or not isinstance(self.in_flight, int) or self.in_flight < 1:
            raise ValueError(f"budget in_flight must be an integer >= 1, got {self.in_flight!r}")


@dataclass(frozen=True)
class SearchSummary:
    """How a search ended. ``stop``: "candidates", "seconds", "stopped" (``stop()`` said so) or
    "exhausted" (the controller had nothing new to propose). ``evaluations`` counts promotions too; ``cancelled`` counts
    evaluations dropped unstarted at the deadline."""

    candidates: int
    evaluations: int
    best: tuple[Expr, float] | None
    stop: str
    seconds: float
    cancelled: int = 0


OnResult = Callable[[Expr, Any], None]


def run_search(
    space: Space,
    controller: Controller,
    evaluate: Callable[..., Future[Any]],
    budget: SearchBudget,
    on_result: OnResult | None = None,
    *,
    scheduler: Scheduler | None = None,
    pending: Sequence[tuple[Expr, int]] = (),
    on_propose: Callable[[list[Expr]], None] | None = None,
    stop: Callable[[], bool] | None = None,
    poll: float = 0.5,
) -> SearchSummary:
    """Runs ``controller`` on ``space`` until ``budget`` is spent or nothing is left to propose.

    ``evaluate(expr)`` (or ``evaluate(expr, rung)`` with a ``scheduler``) must return a future
    of an :class:`Evaluation`; ``on_result(expr, evaluation)`` is called for every finished
    evaluation, after the controller has been told when the result was final for it.
    """
    if controller.space != space:
        raise ValueError("the controller searches a different space")
    fidelity: Scheduler = _OneFidelity() if scheduler is None else scheduler
    submit: Callable[[Expr, int], Future[Any]] = evaluate if scheduler is not None else _one_rung(evaluate)
    top = len(fidelity.rungs) - 1
    began = time.monotonic()
    deadline = None if budget.seconds is None else began + budget.seconds
    running: dict[Future[Any], tuple[int, Expr, int]] = {}  # future -> (submission number, expr, rung)
    exprs: dict[str, Expr] = {}  # fingerprint -> expression, for promotions
    held: dict[str, tuple[Expr, Any]] = {}  # promising results, told when the candidate stops
    proposed = submitted = cancelled = 0
    ended: str | None = None

    def launch(expr: Expr, rung: int) -> None:
        nonlocal submitted
        running[submit(expr, rung)] = (submitted, expr, rung)
        submitted += 1

    def tell(expr: Expr, evaluation: Any) -> None:
        fitness = evaluation.fitness
        fitness = None if fitness is None or not math.isfinite(fitness) else float(fitness)
        controller.tell([Result(expr, fitness, getattr(evaluation, "cost", None))])

    for expr, rung in pending:
        exprs[fingerprint(expr)] = expr
        launch(expr, rung)
    try:
        while True:
            if ended is None and deadline is not None and time.monotonic() >= deadline:
                ended = "seconds"
            if ended is None and stop is not None and stop():
                ended = "stopped"
            if ended is not None:
                for future in [f for f in running if f.cancel()]:
                    del running[future]
                    cancelled += 1
            if ended is None:
                promotable = [(k, r) for k, r in fidelity.promotable() if k in exprs]
                free = budget.in_flight - len(running)
                for key, rung in promotable[:free]:
                    fidelity.promote(key, rung - 1)
                    launch(exprs[key], rung)
                waiting = {k for k, _ in promotable[free:]}
            else:
                waiting = set()
            # a held result is told once its candidate is neither promotable nor training on
            # (so a promotion cancelled at the deadline still leaves the lower rung's result)
            busy = waiting | {fingerprint(expr) for _, expr, _ in running.values()}
            for key in [k for k in held if k not in busy]:
                tell(*held.pop(key))
            room = min(budget.in_flight - len(running), budget.candidates - proposed)
            if ended is None and room > 0:
                proposals = controller.ask(room)
                if proposals and on_propose is not None:
                    on_propose(proposals)
                for expr in proposals:
                    exprs[fingerprint(expr)] = expr
                    launch(expr, 0)
                    proposed += 1
            if not running or ended == "stopped":
                break  # a stop abandons running evaluations: the caller cancels them
            timeout = None if ended or deadline is None else max(0.0, deadline - time.monotonic())
            if stop is not None and ended is None:
                timeout = poll if timeout is None else min(timeout, poll)
            done, _ = wait(running, timeout=timeout, return_when=FIRST_COMPLETED)
            batch = [(*running.pop(f)[1:], f.result()) for f in sorted(done, key=lambda f: running[f][0])]
            for expr, rung, evaluation in batch:
                fidelity.report(fingerprint(expr), rung, evaluation.fitness)
            promising = {k for k, _ in fidelity.promotable()} if ended is None else set()
            for expr, rung, evaluation in batch:
                held.pop(fingerprint(expr), None)  # superseded by this rung's result
                if rung < top and fingerprint(expr) in promising:
                    held[fingerprint(expr)] = (expr, evaluation)  # told after its next rung
                else:
                    tell(expr, evaluation)
                if on_result is not None:
                    on_result(expr, evaluation)
    finally:
        for future in running:
            future.cancel()
    if ended is None:
        ended = "candidates" if proposed >= budget.candidates else "exhausted"
    return SearchSummary(proposed, submitted, controller.best(), ended, time.monotonic() - began, cancelled)
