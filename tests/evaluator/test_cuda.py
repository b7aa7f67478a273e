"""The evaluator on a GPU: the fused CUDA kernel computes what the members' PyTorch code
computes, every task trains there, batching still equals separate runs, and a CUDA run agrees
with the CPU run of the same seed. Skipped on machines without CUDA (CI); run on a GPU machine
with ``pytest tests/evaluator/test_cuda.py``."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from evaluator import Member, RejectionPolicy, Task, get_task, train_population
from space import Expr, parse
from tests.evaluator.test_fused import (
    LAYOUTS,
    _operator_cases,
    _site,
    check_operator,
    check_random_expressions,
)
from tests.evaluator.test_tasks_vision import TASKS as FILE_TASKS

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")

OFF = RejectionPolicy.off()
MEMBERS = [Member(parse("relu(x)"), 0), Member(parse("x*sigmoid(beta*x)"), 1), Member(parse("max(x, sin(x))"), 2)]
TASKS: dict[str, Callable[[Path], Task]] = {
    "mnist1d-mlp": lambda tmp: get_task("mnist1d-mlp"),
    "periodic-extrapolation": lambda tmp: get_task("periodic-extrapolation"),
    "charlm-transformer": lambda tmp: get_task("charlm-transformer"),
    "mnist1d-deep-mlp": lambda tmp: get_task("mnist1d-deep-mlp"),
    "mnist1d-resmlp": lambda tmp: get_task("mnist1d-resmlp"),
    "digits-resnet": lambda tmp: get_task("digits-resnet"),
    **FILE_TASKS,
}
LOSSES = ("train_loss", "val_loss")


@pytest.fixture(autouse=True)
def exact_arithmetic(request: pytest.FixtureRequest) -> Iterator[None]:
    # cuDNN convolutions default to TF32 (10-bit mantissa): agreement is checked in full fp32.
    # The ResNet's 19 batch norms over 16 random-label images amplify fp32 rounding to ~1 % of the
    # loss within a few steps (see test_tasks_vision), so it is compared in float64.
    tf32, dtype = torch.backends.cudnn.allow_tf32, torch.get_default_dtype()
    torch.backends.cudnn.allow_tf32 = False
    if "cifar10-resnet20" in request.node.name and "bf16" not in request.node.name:
        torch.set_default_dtype(torch.float64)
    yield
    torch.backends.cudnn.allow_tf32 = tf32
    torch.set_default_dtype(dtype)


def _train(task: Task, members: list[Member], device: str, *, bf16: bool = False, steps: int = 5) -> list[dict[str, float]]:
    budget = replace(task.budget, batch_size=16, eval_batch_size=256)
    run = train_population(task, members, budget=budget, steps=steps, policy=OFF, device=device, bf16=bf16)
    for r in run.results:
        assert r.status == "ok", (r.reason, r.detail)
        assert r.fitness is not None and math.isfinite(r.fitness)
    return [r.metrics for r in run.results]


def _same_losses(got: dict[str, float], want: dict[str, float], member: Member) -> None:
    for key in LOSSES:
        if key in want:
            assert got[key] == pytest.approx(want[key], rel=2e-3, abs=1e-5), (member, key)


@pytest.mark.parametrize("name", list(TASKS))
def test_cuda_run_agrees_with_the_cpu_run(name: str, tmp_path: Path) -> None:
    task = TASKS[name](tmp_path)
    cpu, cuda = _train(task, MEMBERS, "cpu"), _train(task, MEMBERS, "cuda")
    for member, on_cpu, on_cuda in zip(MEMBERS, cpu, cuda, strict=True):
        _same_losses(on_cuda, on_cpu, member)


@pytest.mark.parametrize("name", list(TASKS))
def test_a_population_member_on_cuda_equals_the_member_alone(name: str, tmp_path: Path) -> None:
    task = TASKS[name](tmp_path)
    together = _train(task, MEMBERS, "cuda")
    for member, metrics in zip(MEMBERS, together, strict=True):
        _same_losses(metrics, _train(task, [member], "cuda")[0], member)


@pytest.mark.parametrize("name", list(TASKS))
def test_bf16_autocast_trains_every_task(name: str, tmp_path: Path) -> None:
    task = TASKS[name](tmp_path)
    full, bf16 = _train(task, MEMBERS, "cuda"), _train(task, MEMBERS, "cuda", bf16=True)
    # 12 layers without normalisation amplify rounding where a member's signal grows with depth:
    # max(x, sin x) in mnist1d-deep-mlp differed by 8 % after 5 steps (on an H100, and on the
    # CPU alike), relu and silu by under 1.2 %
    rel = 0.1 if name == "mnist1d-deep-mlp" else 0.05
    for on_full, on_bf16 in zip(full, bf16, strict=True):
        # bf16 keeps 8 bits of mantissa: the losses of a few steps stay within a few per cent
        assert on_bf16["train_loss"] == pytest.approx(on_full["train_loss"], rel=rel)


def test_a_cuda_checkpoint_resumes_to_the_uninterrupted_run() -> None:
    task = get_task("mnist1d-mlp")
    first = train_population(task, MEMBERS, steps=20, horizon=40, keep_checkpoints=True, policy=OFF, device="cuda")
    checkpoint = first.checkpoints[1]
    assert checkpoint is not None
    resumed = train_population(task, [], steps=40, policy=OFF, device="cuda", resume=[checkpoint])
    full = train_population(task, [MEMBERS[1]], steps=40, horizon=40, policy=OFF, device="cuda")
    assert resumed.results[0].metrics["val_loss"] == pytest.approx(full.results[0].metrics["val_loss"], rel=1e-4)


@pytest.mark.parametrize("expr", _operator_cases(), ids=[e.op for e in _operator_cases()])
def test_the_cuda_kernel_matches_every_operator(expr: Expr) -> None:
    check_operator(expr, "cuda")


@LAYOUTS
def test_the_cuda_kernel_matches_random_expressions_on_every_layout(shape: tuple[int, ...], split_dim: int,
                                                                    channel_dim: int) -> None:
    check_random_expressions(shape, split_dim, channel_dim, "cuda")


def test_nan_inputs_stay_nan_on_cuda() -> None:
    site = _site([parse("relu(x)"), parse("max(x, 0.5)"), parse("min(tanh(x), 1)"), parse("beta*x")],
                 (4, 2, 8), 0, -1).cuda()
    x = torch.randn(4, 2, 8)
    x[:, 0, 3] = math.nan
    x = x.cuda().requires_grad_()
    y = site(x)
    y.sum().backward()
    assert site._cuda_kernels and all(k is not None for k in site._cuda_kernels.values())
    assert y[:, 0, 3].isnan().all() and x.grad is not None and x.grad[:, 0, 3].isnan().all()
    assert not y[:, 1].isnan().any()
