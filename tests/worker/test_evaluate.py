"""The real evaluation: one population per compatible group, outcomes equal to the evaluator's."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import torch

import evaluator
import worker._evaluate as evaluate_module
from evaluator import Checkpoint, Member, get_task, train_population
from space import parse
from worker import _checkpoints as checkpoints
from worker._evaluate import THREADS_ENV, _task, evaluate_batch
from worker._in_process import InProcessExecutor
from worker._request import EvalRequest
from worker.testing import results

TASK, STEPS = "mnist1d-mlp", 40


def req(key: str, expression: str, seed: int = 0, task: str = TASK, device: str = "cpu",
        **options: Any) -> EvalRequest:
    return EvalRequest(key, expression, task, options, seed, STEPS, device)


@pytest.fixture
def population_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The member count of every ``train_population`` call."""
    calls: list[int] = []

    def counted(task: Any, members: Sequence[Member], **kwargs: Any) -> Any:
        calls.append(len(members))
        return train_population(task, members, **kwargs)

    monkeypatch.setattr(evaluator, "train_population", counted)
    return calls


pytestmark = pytest.mark.usefixtures("one_thread")  # conftest.py: as a one-CPU Ray worker


def test_compatible_requests_train_as_one_population_equal_to_a_direct_run(population_calls: list[int]) -> None:
    requests = [req("a", "x*sigmoid(x)", 0), req("b", "x*sigmoid(x)", 1), req("c", "tanh(x)", 0)]
    outcomes = evaluate_batch(requests)
    assert population_calls == [3]
    direct = train_population(get_task(TASK), [Member(parse(r.expression), r.seed) for r in requests],
                              steps=STEPS).results
    for outcome, run in zip(outcomes, direct, strict=True):
        assert (outcome.status, outcome.reason, outcome.steps, outcome.steps_done) == (run.status, run.reason, STEPS, run.steps)
        if run.status == "ok":
            assert outcome.fitness == pytest.approx(run.fitness, abs=1e-6)
        for name, value in run.metrics.items():
            assert outcome.metrics[name] == pytest.approx(value, abs=1e-5)
    assert [o.key for o in outcomes] == ["a", "b", "c"]
    assert any(o.status == "ok" and o.fitness is not None for o in outcomes)


def test_rejected_candidates_carry_their_reason(population_calls: list[int]) -> None:
    outcomes = evaluate_batch([req("beta", "beta"), req("zero", "sin(x)-sin(x)")])
    for outcome in outcomes:
        assert (outcome.status, outcome.reason, outcome.fitness, outcome.steps_done) == ("rejected", "constant", None, 0)
    assert outcomes[1].detail == "f(x) = 0 on [-5, 5]"
    assert population_calls == [2]  # the probe rejects them before any training


def test_the_jobs_rejection_policy_reaches_the_trainer() -> None:
    def request(key: str, text: str, **rejection: Any) -> EvalRequest:
        policy = {**dataclasses.asdict(evaluator.RejectionPolicy()), **rejection}
        return EvalRequest(key, text, TASK, {}, 0, 5, rejection=policy)

    on, off = evaluate_batch([request("on", "x + x^2"),
                              request("off", "x + x^2", signal_propagation=False, loss_window=None)])
    assert (on.status, on.reason, on.steps_done) == ("rejected", "signal_propagation", 0)
    assert "signal gain inf/layer" in (on.detail or "")
    assert off.reason != "signal_propagation" and off.steps_done > 0  # trained (until it diverges)


def test_bad_text_and_bad_tasks_fail_with_a_reason() -> None:
    outcomes = evaluate_batch([req("text", "x +"), req("unknown", "x", task="no-such-task"),
                               req("options", "x", bogus=1), req("rejected", "beta")])
    assert [(o.key, o.status, o.reason) for o in outcomes] == [
        ("text", "failed", "bad_expression"), ("unknown", "failed", "unknown_task"),
        ("options", "failed", "task_error"), ("rejected", "rejected", "constant")]
    assert "column 4" in (outcomes[0].detail or "")
    assert "unknown task 'no-such-task'" in (outcomes[1].detail or "")
    assert "bogus" in (outcomes[2].detail or "")


def test_a_crashing_population_fails_its_group_only(monkeypatch: pytest.MonkeyPatch) -> None:
    def crash(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("CUDA out of memory")

    monkeypatch.setattr(evaluator, "train_population", crash)
    crashed, text = evaluate_batch([req("a", "x"), req("b", "x +")])
    assert (crashed.status, crashed.reason) == ("failed", "error")
    assert (crashed.detail or "").startswith("RuntimeError: CUDA out of memory (at test_evaluate.py:")
    assert text.reason == "bad_expression"


def test_tasks_are_loaded_once_per_process() -> None:
    assert _task(TASK, {"hidden": 32}) is _task(TASK, {"hidden": 32})
    assert _task(TASK, {"hidden": 32}) is not _task(TASK, {"hidden": 16})


def test_torch_threads_follow_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(THREADS_ENV, "2")
    evaluate_batch([req("beta", "beta")])
    assert torch.get_num_threads() == 2


def test_torch_threads_follow_the_cpus_ray_assigned(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(THREADS_ENV)
    monkeypatch.setattr(evaluate_module, "_ray_assigned", {"CPU": 2.0}.get)
    evaluate_batch([req("beta", "beta")])
    assert torch.get_num_threads() == 2


def test_gpu_memory_is_capped_at_the_ray_share(monkeypatch: pytest.MonkeyPatch) -> None:
    fractions: list[float] = []
    monkeypatch.setattr(evaluate_module, "_ray_assigned", {"GPU": 0.25}.get)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "set_per_process_memory_fraction", fractions.append)
    evaluate_batch([req("beta", "beta", device="cuda")])  # probe-rejected: no CUDA is touched
    assert fractions == [0.25]


def test_the_in_process_executor_uses_the_real_evaluation_by_default() -> None:
    executor = InProcessExecutor()
    try:
        (outcome,) = results([executor.submit(req("beta", "beta"))])
        assert (outcome.status, outcome.reason) == ("rejected", "constant")
    finally:
        executor.shutdown()


# -- multi-fidelity: a rung below the last keeps its checkpoint; a promotion continues from it

SHORT, LONG = 20, 60


@pytest.fixture
def checkpoint_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "checkpoints"
    monkeypatch.setenv(checkpoints.DIR_ENV, str(folder))
    return folder


def rung(key: str, expression: str, steps: int, resume_from: int | None = None) -> EvalRequest:
    return EvalRequest(key, expression, TASK, {}, 0, steps, horizon=LONG, resume_from=resume_from)


def test_a_promotion_continues_from_the_rung_below_and_ends_as_a_straight_run(checkpoint_dir: Path) -> None:
    exprs = ["x*sigmoid(x)", "tanh(x)"]
    short = evaluate_batch([rung(f"s{i}", e, SHORT) for i, e in enumerate(exprs)])
    assert [o.steps for o in short] == [SHORT, SHORT] and len(list(checkpoint_dir.glob("*.pt"))) == 2
    promoted = evaluate_batch([rung(f"p{i}", e, LONG, resume_from=SHORT) for i, e in enumerate(exprs)])
    assert not list(checkpoint_dir.glob("*.pt"))  # taken; the last rung keeps none
    assert [(o.steps, o.steps_done, o.metrics["steps_trained"]) for o in promoted] == [(LONG, LONG - SHORT, 40.0)] * 2
    # no checkpoint left: the same requests train from scratch, to the same end
    straight = evaluate_batch([rung(f"p{i}", e, LONG, resume_from=SHORT) for i, e in enumerate(exprs)])
    assert [o.steps_done for o in straight] == [LONG, LONG]
    for got, want in zip(promoted, straight, strict=True):
        assert got.status == want.status == "ok"
        assert got.metrics["val_loss"] == pytest.approx(want.metrics["val_loss"], rel=1e-5)


def test_an_unreadable_checkpoint_is_trained_from_scratch(checkpoint_dir: Path,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    evaluate_batch([rung("s", "tanh(x)", SHORT)])
    (path,) = checkpoint_dir.glob("*.pt")
    path.write_bytes(b"not a checkpoint")
    (outcome,) = evaluate_batch([rung("p", "tanh(x)", LONG, resume_from=SHORT)])
    assert outcome.status == "ok" and outcome.steps_done == LONG
    assert "unreadable checkpoint" in caplog.text and not path.exists()


def test_checkpoints_past_the_size_cap_are_evicted_oldest_first(checkpoint_dir: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    def keep(seed: int, when: float) -> Path:  # one member's checkpoint (a seed per file)
        request = EvalRequest(f"k{seed}", "x", TASK, {}, seed, SHORT, horizon=LONG)
        member = Member(parse("x"), seed)
        checkpoints.save(request, Checkpoint(member, SHORT, LONG, {"w": torch.zeros(1000)}, [1.0]))
        (path,) = set(checkpoint_dir.glob("*.pt")) - seen
        os.utime(path, (when, when))
        seen.add(path)
        return path

    seen: set[Path] = set()
    monkeypatch.setenv(checkpoints.MAX_BYTES_ENV, "20000")  # room for about four
    paths = [keep(i, 1_000_000 + i) for i in range(4)]
    monkeypatch.setenv(checkpoints.MAX_BYTES_ENV, str(sum(p.stat().st_size for p in paths[1:])))
    newest = keep(9, 2_000_000)
    assert sorted(checkpoint_dir.glob("*.pt")) == sorted([*paths[2:], newest])


@pytest.mark.parametrize(("steps", "horizon", "resume_from"), [(60, 20, None), (None, 20, None), (20, None, 10),
                                                                (20, 60, 20), (20, 60, 0)])
def test_a_request_with_an_impossible_schedule_is_refused(steps: int | None, horizon: int | None,
                                                          resume_from: int | None) -> None:
    with pytest.raises(ValueError, match="need|resume_from"):
        EvalRequest("k", "x", TASK, {}, 0, steps, horizon=horizon, resume_from=resume_from)


def test_a_checkpoint_that_cannot_be_kept_is_a_warning_not_a_failed_evaluation(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    monkeypatch.setenv(checkpoints.DIR_ENV, str(blocked / "checkpoints"))
    (outcome,) = evaluate_batch([rung("s", "tanh(x)", SHORT)])
    assert outcome.status == "ok" and outcome.steps_done == SHORT
    assert "could not keep a checkpoint" in caplog.text
    (promoted,) = evaluate_batch([rung("p", "tanh(x)", LONG, resume_from=SHORT)])
    assert promoted.status == "ok" and promoted.steps_done == LONG


def test_a_bf16_request_trains_under_autocast_in_its_own_population(population_calls: list[int]) -> None:
    fp32, bf16 = evaluate_batch([req("a", "tanh(x)"), dataclasses.replace(req("b", "tanh(x)"), precision="bf16")])
    assert population_calls == [1, 1] and fp32.status == bf16.status == "ok"
    assert bf16.metrics["train_loss"] != fp32.metrics["train_loss"]
    assert bf16.metrics["train_loss"] == pytest.approx(fp32.metrics["train_loss"], rel=0.05)
