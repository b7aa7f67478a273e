"""The deep tasks of issue 16: mnist1d-deep-mlp, mnist1d-resmlp and digits-resnet.

What a user relies on: each is a registered task whose depth and width options build what they
say, a member trained in a population equals the member trained alone, bad options fail with
the options named, and — the reason these tasks exist — a function that wins shallow networks
but compounds with depth (x + x²) does not score like ReLU here.
"""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
import torch

from evaluator import OK, Member, RejectionPolicy, Task, TaskError, get_task, task_names, train_population
from evaluator._stacked import StackedActivation, reset_stacked
from evaluator._task import ActivationFactory
from space import compile_module, parse

OFF = RejectionPolicy.off()
NAMES = ("mnist1d-deep-mlp", "mnist1d-resmlp", "digits-resnet")
MEMBERS = [Member(parse("relu(x)"), 0), Member(parse("tanh(x)"), 1), Member(parse("x*sigmoid(beta*x)"), 2)]


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/evaluator/conftest.py


def _factory(text: str) -> ActivationFactory:
    expr = parse(text)
    return lambda channels, dim: compile_module(expr, num_channels=channels, channel_dim=dim)


def _sites(task: Task) -> int:
    return sum(isinstance(m, StackedActivation) for m in task.build([_factory("relu(x)")]).modules())


def _train(task: Task, members: list[Member], steps: int = 3) -> list[dict[str, float]]:
    budget = replace(task.budget, batch_size=16)
    run = train_population(task, members, budget=budget, steps=steps, policy=OFF, processes=1)
    for r in run.results:
        assert r.status == OK, (r.reason, r.detail)
    return [{**r.metrics, "fitness": r.fitness or 0.0} for r in run.results]


def test_registered_and_described() -> None:
    for name in NAMES:
        assert name in task_names()
        described = get_task(name).describe()
        assert described["name"] == name and described["objective"] == "val_accuracy"
        assert described["quality_floor"] == 0.2 and described["device"] == "cpu"


@pytest.mark.parametrize(("name", "options", "sites"), [
    ("mnist1d-deep-mlp", {}, 12),
    ("mnist1d-deep-mlp", {"depth": 5, "width": 16}, 5),
    ("mnist1d-resmlp", {}, 2 * 8 + 1),  # two per block and one before the read-out
    ("mnist1d-resmlp", {"blocks": 3}, 2 * 3 + 1),
    ("digits-resnet", {}, 1 + 2 * 2 * 3),  # the stem, then two per block, 3 blocks in each of 2 stages
    ("digits-resnet", {"blocks": 1, "norm": "none"}, 1 + 2 * 2 * 1),
])
def test_depth_options_build_that_many_activation_sites(name: str, options: dict[str, object], sites: int) -> None:
    assert _sites(get_task(name, **options)) == sites


@pytest.mark.parametrize("name", NAMES)
def test_member_of_population_equals_member_alone(name: str) -> None:
    task = get_task(name)
    together = _train(task, MEMBERS)
    for member, metrics in zip(MEMBERS, together, strict=True):
        alone = _train(task, [member])[0]
        assert metrics.keys() == alone.keys()
        for key, value in alone.items():
            assert metrics[key] == pytest.approx(value, rel=1e-4, abs=1e-6), (member, key)


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_gives_identical_results(name: str) -> None:
    task = get_task(name)
    assert _train(task, MEMBERS[:2], steps=2) == _train(task, MEMBERS[:2], steps=2)


@pytest.mark.parametrize(("name", "option"), [(n, o) for n in NAMES for o in ("depth", "hidden", "widht")
                                              if not (n == "mnist1d-deep-mlp" and o == "depth")])
def test_an_unknown_option_names_the_task_options(name: str, option: str) -> None:
    with pytest.raises(TaskError, match=rf"bad options for task '{name}'.*its options: .*width="):
        get_task(name, **{option: 3})


@pytest.mark.parametrize(("name", "options", "match"), [
    ("mnist1d-deep-mlp", {"depth": 0}, "option depth must be a whole number >= 1, got 0"),
    ("mnist1d-deep-mlp", {"width": 12.5}, "option width must be a whole number >= 1, got 12.5"),
    ("mnist1d-resmlp", {"blocks": True}, "option blocks must be a whole number >= 1, got True"),
    ("digits-resnet", {"blocks": -1}, "option blocks must be a whole number >= 1, got -1"),
    ("digits-resnet", {"norm": "layer"}, "option norm must be one of batch, none; got 'layer'"),
])
def test_bad_option_values_are_task_errors(name: str, options: dict[str, object], match: str) -> None:
    with pytest.raises(TaskError, match=match):
        get_task(name, **options)


def test_plain_net_is_he_initialised_so_relu_keeps_its_scale() -> None:
    # He init keeps a ReLU signal's second moment through every layer; PyTorch's default
    # (variance 1/(3 fan_in)) would shrink it about 6x per layer, 1e-8 after 11 layers. One
    # width-64 network drifts by up to ~6x either way (finite width): the geometric mean over
    # 8 members (own seeds) is what He init pins down.
    k = 8
    model = get_task("mnist1d-deep-mlp").build([_factory("relu(x)")] * k)
    assert isinstance(model.layers, torch.nn.Sequential)
    reset_stacked(model, [torch.Generator().manual_seed(seed) for seed in range(k)])
    x = torch.randn(1, 4096, 40, generator=torch.Generator().manual_seed(1)).expand(k, -1, -1)
    moments = []
    with torch.no_grad():
        for layer in model.layers:
            x = layer(x)
            if isinstance(layer, StackedActivation):
                moments.append(x.pow(2).mean(dim=(1, 2)))
    assert len(moments) == 12
    ratio = math.exp(float((moments[-1] / moments[0]).log().mean()))
    assert 0.3 < ratio < 3.0, ratio


@pytest.mark.parametrize("name", ["mnist1d-resmlp", "digits-resnet"])
def test_residual_nets_start_from_zero_branches_only_without_norm(name: str) -> None:
    # Fixup: a network without normalisation starts with the last layer of every branch at 0
    task = get_task(name, norm="none") if name == "digits-resnet" else get_task(name)
    model = task.build([_factory("relu(x)")])
    reset_stacked(model, [torch.Generator().manual_seed(0)])
    last = [m for m in model.modules() if hasattr(m, "scale") and m.scale == 0.0]
    assert len(last) == (8 + 1 if name == "mnist1d-resmlp" else 6 + 1)  # every branch and the read-out
    assert all(float(p.detach().abs().sum()) == 0.0 for m in last for p in m.parameters())


@pytest.mark.parametrize(("name", "steps", "relu_floor"), [
    ("mnist1d-deep-mlp", 300, 0.4),
    ("mnist1d-resmlp", 300, 0.4),
    ("digits-resnet", 60, 0.6),
])
def test_relu_trains_and_the_shallow_winner_does_not(name: str, steps: int, relu_floor: float) -> None:
    # x + x^2 wins mnist1d-mlp and digits-cnn by ~5 points (issue 16); in a deep network its
    # signal compounds. Rejection is off: the training itself must show it, not the probe.
    task = get_task(name)
    texts = ["relu(x)", "x + x^2"]
    run = train_population(task, [Member(parse(t), 0) for t in texts], steps=steps, policy=OFF, processes=1)
    relu, winner = run.results
    assert relu.status == OK and relu.fitness is not None and relu.fitness > relu_floor, relu
    winner_fitness = winner.fitness if winner.status == OK and winner.fitness is not None else -math.inf
    assert winner_fitness < relu.fitness - 0.1, (winner.status, winner.reason, winner.fitness)
