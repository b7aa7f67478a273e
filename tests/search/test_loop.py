"""The search loop: several evaluations in flight finishing out of order, budgets, callbacks,
multi-fidelity promotion with ASHA. Fake evaluators only: fitness from a table keyed by
fingerprint, random sleeps so that results arrive out of order."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest

from evaluator import AshaScheduler
from search import Result, SearchBudget, make_controller, run_search
from space import Expr, Space, fingerprint

SPACE = Space(unary=("x", "neg", "abs", "sigmoid", "tanh", "sin", "relu", "exp"), binary=("add", "mul", "max", "min"))


def fitness_at(key: str, rung: int = 0) -> float | None:
    """Deterministic per function (fingerprint); one in ten rejected; higher rungs add a little."""
    value = int(key[:8], 16) / 16**8
    return None if value < 0.1 else value + 0.01 * rung


@dataclass(frozen=True)
class Outcome:
    fitness: float | None
    rung: int
    cost: float | None = None


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(8) as executor:
        yield executor


class FakeEvaluator:
    """Sleeps a random 0-20 ms, then looks the fitness up; records concurrency and calls."""

    def __init__(self, pool: ThreadPoolExecutor, seed: int = 0) -> None:
        self.pool, self.rng, self.lock = pool, random.Random(seed), threading.Lock()
        self.running = self.peak = 0
        self.calls: list[tuple[str, int]] = []

    def __call__(self, expr: Expr, rung: int = 0) -> Future[Outcome]:
        self.calls.append((fingerprint(expr), rung))
        return self.pool.submit(self._run, expr, rung, self.rng.uniform(0.0, 0.02))

    def _run(self, expr: Expr, rung: int, sleep: float) -> Outcome:
        with self.lock:
            self.running += 1
            self.peak = max(self.peak, self.running)
        time.sleep(sleep)
        with self.lock:
            self.running -= 1
        return Outcome(fitness_at(fingerprint(expr), rung), rung)


def test_keeps_k_in_flight_out_of_order_and_tells_every_result(pool: ThreadPoolExecutor) -> None:
    ctrl = make_controller("evolution", SPACE, params={"population": 8, "tournament": 3})
    evaluate = FakeEvaluator(pool)
    seen: list[Expr] = []
    summary = run_search(SPACE, ctrl, evaluate, SearchBudget(candidates=40, in_flight=4), lambda e, r: seen.append(e))
    asked = [k for k, _ in evaluate.calls]
    assert summary.candidates == summary.evaluations == len(seen) == 40 and summary.stop == "candidates"
    assert len(set(asked)) == 40 and [fingerprint(e) for e in seen] != asked  # finished out of order
    assert evaluate.peak == 4 and ctrl.pending == 0
    best = max((f, k) for k in asked if (f := fitness_at(k)) is not None)
    assert summary.best is not None and (summary.best[1], fingerprint(summary.best[0])) == best


def test_the_callback_sees_the_controller_already_told(pool: ThreadPoolExecutor) -> None:
    ctrl = make_controller("random", SPACE)
    states: list[int] = []
    run_search(SPACE, ctrl, FakeEvaluator(pool), SearchBudget(candidates=10, in_flight=3),
               lambda e, r: states.append(len(ctrl.state_dict()["results"])))
    assert states == list(range(1, 11))  # a checkpoint taken in the callback includes the result


def slow_result(expr: Expr) -> Result:
    time.sleep(0.05)
    return Result(expr, 0.5)


def test_wall_time_budget_stops_new_work(pool: ThreadPoolExecutor) -> None:
    def slow(expr: Expr) -> Future[Result]:
        return pool.submit(slow_result, expr)

    began = time.monotonic()
    summary = run_search(SPACE, make_controller("random", SPACE), slow, SearchBudget(candidates=10**6, seconds=0.3, in_flight=3))
    elapsed = time.monotonic() - began
    # stops after the budget plus the last in-flight results (0.05 s), not 10**6 candidates;
    # the slack is for a loaded CI machine
    assert summary.stop == "seconds" and 0.3 <= elapsed < 0.3 + 0.05 + 2.0
    assert 3 <= summary.candidates <= 3 * 0.3 / 0.05 + 3  # about 18, fewer on a loaded machine


def test_unstarted_evaluations_are_cancelled_at_the_deadline() -> None:
    ctrl = make_controller("random", SPACE)
    with ThreadPoolExecutor(1) as one:  # in_flight 3 on one worker: one or two queued
        summary = run_search(SPACE, ctrl, lambda e: one.submit(slow_result, e),
                             SearchBudget(candidates=100, seconds=0.2, in_flight=3))
    assert summary.stop == "seconds" and summary.cancelled in (1, 2)
    assert len(ctrl.state_dict()["results"]) == summary.candidates - summary.cancelled == summary.evaluations - summary.cancelled
    assert ctrl.pending == summary.cancelled  # never evaluated: the runner may re-queue them


def test_an_exhausted_controller_ends_the_search(pool: ThreadPoolExecutor) -> None:
    tiny = Space(unary=("x", "neg"), binary=("add", "mul"))
    summary = run_search(tiny, make_controller("exhaustive", tiny), FakeEvaluator(pool), SearchBudget(candidates=100, in_flight=3))
    assert summary.stop == "exhausted" and summary.candidates == 5


def test_errors_propagate_and_bad_budgets_are_refused(pool: ThreadPoolExecutor) -> None:
    def broken(expr: Expr) -> Future[Result]:
        return pool.submit(lambda: 1 / 0)  # type: ignore[arg-type, return-value]

    with pytest.raises(ZeroDivisionError):
        run_search(SPACE, make_controller("random", SPACE), broken, SearchBudget(candidates=5, in_flight=2))
    with pytest.raises(ValueError, match="different space"):
        run_search(SPACE, make_controller("random", Space()), broken, SearchBudget(candidates=5))
    for bad in [dict(candidates=-1), dict(candidates=1, in_flight=0), dict(candidates=1, seconds=0.0)]:
        with pytest.raises(ValueError, match="budget"):
            SearchBudget(**bad)  # type: ignore[arg-type]


def test_non_finite_fitness_is_told_as_rejected(pool: ThreadPoolExecutor) -> None:
    ctrl = make_controller("random", SPACE)
    run_search(SPACE, ctrl, lambda e: pool.submit(Result, e, float("nan")), SearchBudget(candidates=3))
    assert list(ctrl.state_dict()["results"].values()) == [None, None, None]


# -- multi-fidelity


def run_asha(pool: ThreadPoolExecutor, candidates: int, in_flight: int) -> tuple[Any, list[tuple[str, str, int]], Any]:
    """Runs random search under ASHA (rungs 1, 3, 9; eta 3); returns the summary, the log of
    submissions and results in the order the loop saw them, and the controller."""
    log: list[tuple[str, str, int]] = []
    evaluate = FakeEvaluator(pool, seed=in_flight)

    def submit(expr: Expr, rung: int) -> Future[Outcome]:
        log.append(("submit", fingerprint(expr), rung))
        return evaluate(expr, rung)

    ctrl = make_controller("random", SPACE, seed=1)
    summary = run_search(SPACE, ctrl, submit, SearchBudget(candidates=candidates, in_flight=in_flight),
                         lambda e, r: log.append(("result", fingerprint(e), r.rung)),
                         scheduler=AshaScheduler(rungs=(1, 3, 9), eta=3))
    return summary, log, ctrl


def test_asha_promotions_go_before_new_candidates(pool: ThreadPoolExecutor) -> None:
    summary, log, ctrl = run_asha(pool, 30, 3)
    submits = [(k, r) for kind, k, r in log if kind == "submit"]
    assert summary.candidates == sum(r == 0 for _, r in submits) == 30 and summary.stop == "candidates"
    assert summary.evaluations == len(submits) == sum(kind == "result" for kind, _, _ in log) > 30
    assert any(r == 2 for _, r in submits)
    # Replaying ASHA's books along the log: a promotion follows its lower rung's result, and no
    # new candidate is submitted while something is promotable.
    replay = AshaScheduler(rungs=(1, 3, 9), eta=3)
    reached: dict[str, list[int]] = {}
    for kind, key, rung in log:
        if kind == "result":
            replay.report(key, rung, fitness_at(key, rung))
            reached.setdefault(key, []).append(rung)
        elif rung > 0:
            assert (key, rung) in replay.promotable()
            replay.promote(key, rung - 1)
        else:
            assert replay.promotable() == []
    # one result per candidate is told, from a rung it reached
    told = ctrl.state_dict()["results"]
    assert ctrl.pending == 0 and len(told) == 30
    assert all(told[key] in [fitness_at(key, r) for r in rungs] for key, rungs in reached.items())


def test_asha_tells_the_result_where_a_candidate_stopped(pool: ThreadPoolExecutor) -> None:
    """With one slot the order is determined: a result that is promotable when it arrives is
    continued at once and told after its next rung; any other is told as it is. (A candidate
    that ASHA promotes later still trains on; the controller keeps what it was told.)"""
    summary, log, ctrl = run_asha(pool, 15, 1)
    results = [(k, r) for kind, k, r in log if kind == "result"]
    replay = AshaScheduler(rungs=(1, 3, 9), eta=3)
    expected: dict[str, float | None] = {}
    for i, (key, rung) in enumerate(results):
        replay.report(key, rung, fitness_at(key, rung))
        promotable = replay.promotable()
        if rung == 2 or (key, rung + 1) not in promotable:
            expected.setdefault(key, fitness_at(key, rung))
        if i + 1 < len(results):
            nxt = results[i + 1]
            assert nxt == promotable[0] if promotable else nxt[1] == 0
            if promotable:
                replay.promote(nxt[0], nxt[1] - 1)
    assert ctrl.state_dict()["results"] == expected
    assert summary.evaluations > summary.candidates == 15


def test_asha_at_the_deadline_tells_everything_it_holds() -> None:
    """One worker, four in flight: at the deadline two or three queued evaluations (promotions
    among them) are cancelled unstarted; every candidate with any result is still told one."""
    results: set[str] = set()
    ctrl = make_controller("random", SPACE, seed=2)
    with ThreadPoolExecutor(1) as one:
        evaluate = FakeEvaluator(one, seed=2)
        summary = run_search(SPACE, ctrl, evaluate, SearchBudget(candidates=10**6, seconds=0.4, in_flight=4),
                             lambda e, r: results.add(fingerprint(e)), scheduler=AshaScheduler(rungs=(1, 3, 9), eta=3))
    assert summary.stop == "seconds" and summary.cancelled in (2, 3) and summary.evaluations > summary.candidates
    never = {k for k, r in evaluate.calls if r == 0} - results
    assert ctrl.pending == len(never) <= 3


def test_on_propose_sees_proposals_before_they_are_launched(pool):
    evaluate = FakeEvaluator(pool)
    controller = make_controller("random", SPACE, seed=3)
    seen: list[str] = []

    def on_propose(exprs: list[Expr]) -> None:
        launched = {key for key, _ in evaluate.calls}
        assert not launched & {fingerprint(e) for e in exprs}
        assert controller.pending >= len(exprs)  # the state saved here already holds them
        seen.extend(fingerprint(e) for e in exprs)

    run_search(SPACE, controller, evaluate, SearchBudget(candidates=12, in_flight=3), on_propose=on_propose)
    assert seen == [key for key, _ in evaluate.calls]


def test_pending_evaluations_resume_first_and_cost_no_budget(pool):
    first = make_controller("random", SPACE, seed=4)
    proposed = first.ask(3)  # proposed before a crash, never evaluated
    resumed = make_controller("random", SPACE, seed=4)
    resumed.load_state_dict(first.state_dict())
    evaluate = FakeEvaluator(pool)
    summary = run_search(SPACE, resumed, evaluate, SearchBudget(candidates=5, in_flight=2),
                         pending=[(e, 0) for e in proposed])
    assert [k for k, _ in evaluate.calls[:3]] == [fingerprint(e) for e in proposed]
    assert summary.candidates == 5 and len(evaluate.calls) == 8
    assert resumed.pending == 0


def test_stop_ends_the_loop_within_a_poll():
    gate = threading.Event()
    with ThreadPoolExecutor(2) as slow:
        def evaluate(expr: Expr) -> Future[Outcome]:
            return slow.submit(lambda: (gate.wait(5), Outcome(0.5, 0))[1])

        flag = threading.Event()
        threading.Timer(0.2, flag.set).start()
        began = time.monotonic()
        summary = run_search(SPACE, make_controller("random", SPACE), evaluate,
                             SearchBudget(candidates=100, in_flight=4), stop=flag.is_set, poll=0.05)
        gate.set()
    assert summary.stop == "stopped"
    assert time.monotonic() - began < 2.0
    assert summary.candidates == 4
