"""The fitness signal orders functions the way the literature and our measurements say."""

from __future__ import annotations

import pytest

from evaluator import Member, RejectionPolicy, get_task, train_population
from space import parse


@pytest.mark.usefixtures("one_thread")  # tests/evaluator/conftest.py: the same numbers, 10x faster when busy
def test_identity_ranks_below_relu_tanh_and_silu_on_mnist1d() -> None:
    # A fifth of the default budget keeps this test cheap; the order already holds there
    # (identity makes the MLP linear: about 0.33 accuracy against 0.6+ for the others).
    task = get_task("mnist1d-mlp")
    texts = ["x", "relu(x)", "tanh(x)", "x*sigmoid(x)"]
    run = train_population(task, [Member(parse(t), 0) for t in texts], steps=600,
                           policy=RejectionPolicy.off())
    fitness = dict(zip(texts, (r.fitness for r in run.results), strict=True))
    assert all(f is not None for f in fitness.values())
    for other in texts[1:]:
        assert fitness["x"] + 0.1 < fitness[other], fitness  # type: ignore[operator]
