"""Multi-fidelity: resuming equals training straight through; ASHA's rule."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import torch

from evaluator import (
    OK,
    AshaScheduler,
    Member,
    RejectionPolicy,
    geometric_rungs,
    get_task,
    train_population,
)
from evaluator._task import Task
from space import parse

OFF = RejectionPolicy.off()
NINE = ("x*sigmoid(x)", "tanh(x)", "relu(x)", "sin(x)", "x*tanh(x)", "softplus(x)", "sigmoid(x)",
        "min(x, sin(x))", "x + sin(x)^2")


@pytest.fixture(scope="module")
def task() -> Iterator[Task]:
    # One intra-op thread: these networks are tiny, and on a shared 2-core machine torch's
    # spinning worker threads made training about 20x slower. Restored for other modules.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield get_task("mnist1d-mlp")
    torch.set_num_threads(threads)


def test_resuming_from_checkpoints_equals_training_straight_through(task: Task) -> None:
    """Members checkpointed at step 60 of a 120-step schedule — in two different populations,
    resumed in a third with another order — end where one straight 120-step run ends."""
    a, b, c = (Member(parse(t), seed) for t, seed in (("x*sigmoid(x)", 0), ("tanh(x)", 1), ("sin(x)", 2)))
    straight = train_population(task, [a, b, c], steps=120, horizon=120, policy=OFF, keep_checkpoints=True)
    first = train_population(task, [a, b], steps=60, horizon=120, policy=OFF, keep_checkpoints=True)
    second = train_population(task, [c], steps=60, horizon=120, policy=OFF, keep_checkpoints=True)
    assert all(cp is not None and cp.step == 60 and cp.horizon == 120 for cp in first.checkpoints + second.checkpoints)
    resumed = train_population(task, [], resume=[second.checkpoints[0], first.checkpoints[0]],  # type: ignore[list-item]
                               steps=120, policy=OFF, keep_checkpoints=True)
    alone = train_population(task, [], resume=[first.checkpoints[1]], steps=120, policy=OFF,  # type: ignore[list-item]
                             keep_checkpoints=True)

    for got, want in [(resumed.results[0], 2), (resumed.results[1], 0), (alone.results[0], 1)]:
        ref = straight.results[want]
        assert got.status == ref.status == OK and got.steps == 60 and ref.steps == 120
        assert got.metrics["val_loss"] == pytest.approx(ref.metrics["val_loss"], rel=1e-5)
        assert got.metrics["train_loss"] == pytest.approx(ref.metrics["train_loss"], rel=1e-5)
        assert got.fitness == pytest.approx(ref.fitness, abs=1e-3)
    for got_cp, want in [(resumed.checkpoints[0], 2), (resumed.checkpoints[1], 0), (alone.checkpoints[0], 1)]:
        ref_cp = straight.checkpoints[want]
        assert got_cp is not None and ref_cp is not None and got_cp.step == ref_cp.step == 120
        for name, weight in ref_cp.state["weights"].items():
            torch.testing.assert_close(got_cp.state["weights"][name], weight, rtol=1e-4, atol=1e-5)
        assert got_cp.losses == pytest.approx(ref_cp.losses, rel=1e-4)


def test_bad_rungs_are_refused() -> None:
    for rungs in [(), (30, 10), (0, 10), (10, 10)]:
        with pytest.raises(ValueError, match="rungs"):
            AshaScheduler(rungs=rungs)
    assert geometric_rungs(3000, 3) == (333, 1000, 3000)
    assert geometric_rungs(90, 3, count=3) == (10, 30, 90)


# -- ASHA on synthetic numbers: no training needed


def test_asha_promotes_the_top_third_of_completed_results() -> None:
    asha = AshaScheduler(rungs=(1, 3, 9), eta=3)
    asha.report("a", 0, 0.1)
    asha.report("b", 0, 0.2)
    assert asha.promotable() == []  # floor(2 / 3) = 0: nobody yet
    assert asha.should_promote("z", 0, 0.9)  # as the third result, and the best, it would be
    asha.report("c", 0, 0.3)
    assert asha.promotable() == [("c", 1)]
    assert asha.should_promote("c", 0, 0.3) and not asha.should_promote("b", 0, 0.2)
    asha.promote("c", 0)
    assert asha.promotable() == []  # handed out once only
    for name, value in [("d", 0.05), ("e", None), ("f", 0.15)]:  # e was rejected: completed, ranks last
        asha.report(name, 0, value)
    assert asha.promotable() == [("b", 1)]  # 6 results: the top 2 are c (promoted) and b
    assert not asha.should_promote("e", 0, None)
    for name, value in [("c", 0.6), ("b", 0.5), ("x", 0.4)]:
        asha.report(name, 1, value)
    assert asha.promotable() == [("c", 2), ("b", 1)]  # higher rung first
    asha.report("c", 2, 0.8)
    assert not asha.should_promote("c", 2, 0.8)  # the last rung promotes nobody
    assert asha.rung_of("c") == 2 and asha.rung_of("a") == 0 and asha.rung_of("nobody") is None
    assert asha.steps_for(0) == 1 and asha.steps_for(2) == 6
    # c: 9, b and x: 3, a d e f: 1 each
    assert asha.steps_spent() == 9 + 3 + 3 + 4 and asha.full_steps() == 7 * 9


def test_asha_state_round_trips_through_json() -> None:
    asha = AshaScheduler(rungs=(10, 30, 90), eta=3)
    for i, value in enumerate([0.3, 0.1, None, 0.7, 0.5, 0.2]):
        asha.report(f"c{i}", 0, value)
    asha.promote("c3", 0)
    asha.report("c3", 1, 0.75)
    state = json.loads(json.dumps(asha.state_dict()))
    restored = AshaScheduler.from_state_dict(state)
    assert restored.state_dict() == asha.state_dict()
    assert restored.promotable() == asha.promotable() == [("c4", 1)]
    assert restored.steps_spent() == asha.steps_spent()
    with pytest.raises(ValueError, match="rungs"):
        AshaScheduler(rungs=(10, 30), eta=3).load_state_dict(state)
    with pytest.raises(ValueError, match="rung 3"):
        asha.report("c0", 3, 0.1)
    with pytest.raises(KeyError):
        asha.promote("nobody", 0)
