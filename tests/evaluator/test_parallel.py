"""A CPU population split over worker processes trains as it does in one process."""

from __future__ import annotations

import dataclasses
import logging
import os
import sys
from collections.abc import Sequence

import pytest
import torch
from torch import nn

from evaluator import Member, RejectionPolicy, Task, _parallel, get_task, train_population
from evaluator._parallel import MIN_MEMBERS_PER_PROCESS, PROCESSES_ENV, processes_for
from evaluator._task import ActivationFactory, TaskData
from evaluator.tasks.mnist1d import Mnist1dMLP
from space import parse

OFF = RejectionPolicy.off()
TEXTS = ["relu(x)", "tanh(x)", "x * sigmoid(x)", "x + sin(x)^2", "erf(x) * x"]


@pytest.fixture(scope="module")
def task() -> Task:
    return get_task("mnist1d-mlp")


def population() -> list[Member]:
    return [Member(parse(t), seed) for seed, t in enumerate(TEXTS)]


def test_a_split_population_equals_the_population_trained_in_one_process(
        task: Task, caplog: pytest.LogCaptureFixture) -> None:
    here = train_population(task, population(), steps=40, horizon=80, policy=OFF, processes=1, keep_checkpoints=True)
    with caplog.at_level(logging.WARNING, logger="evaluator._parallel"):
        split = train_population(task, population(), steps=40, horizon=80, policy=OFF, processes=2,
                                 keep_checkpoints=True)
    assert "in one process" not in caplog.text  # the parts really trained in workers
    assert [r.expression for r in split.results] == [r.expression for r in here.results]  # member order
    assert [r.seed for r in split.results] == list(range(len(TEXTS)))
    for a, b in zip(here.results, split.results, strict=True):
        assert b.status == a.status == "ok"
        # parts run one thread where the caller runs two: sums may round differently
        assert b.fitness == pytest.approx(a.fitness, abs=5e-4)  # validation accuracy: 5 of 10,000
        assert b.metrics["train_loss"] == pytest.approx(a.metrics["train_loss"], rel=1e-3)
        assert 0 < b.wall_time < split.wall_time
    assert split.trained_members == len(TEXTS)
    # checkpoints come back from the workers and continue there, as they continue here
    done_here = train_population(task, [], resume=here.checkpoints, steps=80, policy=OFF, processes=1)  # type: ignore[arg-type]
    with caplog.at_level(logging.WARNING, logger="evaluator._parallel"):
        done_split = train_population(task, [], resume=split.checkpoints, steps=80, policy=OFF, processes=2)  # type: ignore[arg-type]
    assert "in one process" not in caplog.text
    for a, b in zip(done_here.results, done_split.results, strict=True):
        assert (b.expression, b.steps) == (a.expression, 40)
        assert b.fitness == pytest.approx(a.fitness, abs=5e-4)


def test_rejections_in_a_part_are_reported_per_member(task: Task) -> None:
    policy = dataclasses.replace(OFF, probe=True)
    texts = ["relu(x)", "2*x + 1", "tanh(x)", "x*0 + 3"]  # affine and constant: rejected by the probe
    run = train_population(task, [Member(parse(t), 0) for t in texts], steps=20, policy=policy, processes=2)
    assert [r.status for r in run.results] == ["ok", "rejected", "ok", "rejected"]
    assert run.trained_members == 2


def test_an_error_of_the_training_is_raised_here(task: Task) -> None:
    with pytest.raises(ValueError, match="horizon"):
        train_population(task, population(), steps=50, horizon=10, policy=OFF, processes=2)


def test_a_population_that_cannot_reach_a_worker_trains_here(caplog: pytest.LogCaptureFixture) -> None:
    base = get_task("mnist1d-mlp")

    class Inline(Task):  # a class inside a function does not pickle
        name, description, budget = "inline", "mnist1d-mlp under another class", base.budget

        def load(self) -> TaskData:
            return base.load()

        def build(self, factories: Sequence[ActivationFactory]) -> nn.Module:
            return base.build(factories)

    with caplog.at_level(logging.WARNING, logger="evaluator._parallel"):
        run = train_population(Inline(), population()[:2], steps=10, policy=OFF, processes=2)
    assert [r.status for r in run.results] == ["ok", "ok"]
    assert "cannot be sent to a worker" in caplog.text


class ParentOnly(Mnist1dMLP):
    """``mnist1d-mlp`` that refuses to be loaded in any other process."""

    def __init__(self) -> None:
        super().__init__()
        self.home = os.getpid()

    def __setstate__(self, state: dict[str, object]) -> None:
        if state["home"] != os.getpid():
            raise RuntimeError("this task loads only where it was made")
        self.__dict__.update(state)


def test_a_population_a_worker_cannot_load_trains_here(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="evaluator._parallel"):
        run = train_population(ParentOnly(), population()[:2], steps=10, policy=OFF, processes=2)
    assert [r.status for r in run.results] == ["ok", "ok"]
    assert "cannot load the population" in caplog.text and "only where it was made" in caplog.text
    # later populations train in (fresh) workers again
    assert train_population(get_task("mnist1d-mlp"), population()[:2], steps=5, policy=OFF, processes=2).trained_members == 2


def test_workers_that_cannot_start_leave_the_population_to_this_process(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    _parallel._stop_all()  # no idle workers to reuse
    monkeypatch.setattr(sys, "executable", "/nonexistent/python")
    with caplog.at_level(logging.WARNING, logger="evaluator._parallel"):
        run = train_population(get_task("mnist1d-mlp"), population()[:2], steps=5, policy=OFF, processes=2)
    assert [r.status for r in run.results] == ["ok", "ok"]
    assert "cannot start a population worker" in caplog.text


def test_how_many_processes(monkeypatch: pytest.MonkeyPatch) -> None:
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    monkeypatch.setattr(torch, "get_num_threads", lambda: 2)
    monkeypatch.delenv(PROCESSES_ENV, raising=False)
    assert processes_for(2 * MIN_MEMBERS_PER_PROCESS - 1, cpu) == 1  # too few members for two parts
    assert processes_for(2 * MIN_MEMBERS_PER_PROCESS, cpu) == 2
    assert processes_for(64, cuda) == 1
    monkeypatch.setenv(PROCESSES_ENV, "1")
    assert processes_for(64, cpu) == 1
    monkeypatch.setenv(PROCESSES_ENV, "4")
    assert processes_for(64, cpu) == 4
    for bad in ("two", "0"):
        monkeypatch.setenv(PROCESSES_ENV, bad)
        with pytest.raises(ValueError, match=PROCESSES_ENV):
            processes_for(64, cpu)
