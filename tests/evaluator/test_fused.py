"""Fused C kernels (``evaluator._fused`` from ``space._c_source``): the contract they keep.

Every candidate also has its PyTorch code (what is stored and exported); the kernels must
compute the same function and the same gradients, for x and for every β, on every layout the
tasks use, and fall back to that code wherever they cannot run. Differential tests throughout.
"""

from __future__ import annotations

import functools
import logging
import math
import platform
import random
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
import torch

import space._torch
from evaluator import Member, RejectionPolicy, _c_target, _fused, get_task, train_population
from evaluator._stacked import StackedActivation
from evaluator._vectoriser import kernel_loops
from space import (
    C_OPERATORS,
    OPERATORS,
    Expr,
    Operator,
    Space,
    X,
    c_supported,
    c_unary,
    call,
    compile_module,
    parse,
)

pytestmark = pytest.mark.skipif(_fused._compiler() is None, reason="needs a C compiler")

# kinks, guard boundaries (sinc's series, softplus's threshold, exp/sinh/gauss clamps) and the
# guarded range's ends, on both sides
SPECIAL = [0.0, -0.0, 1e-7, -1e-7, 0.25, -0.25, 0.4999, 0.5, -0.5, 1.0, -1.0, 2.9, -2.9, 3.0, -3.0, 3.1,
           -3.1, 19.9, 20.0, 20.1, -20.1, 79.0, 80.0, 81.0, -81.0, 87.0, -87.0, -88.0, 88.8, -104.0, 99.0, 101.0, -101.0, 1e3, -1e3, 1e4, -1e4]


@pytest.fixture(autouse=True)
def _kernel_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path_factory.getbasetemp() / "kernels"  # one per session: tests share builds
    monkeypatch.setattr(_fused, "cache_dir", lambda: folder)


def _compile_members(exprs: Sequence[Expr], channels: int, channel_dim: int) -> list[torch.nn.Module]:
    """``compile_module`` of each expression, without the canonical form: it writes that only
    into the generated module's docstring, and simplifying a random deep expression with sympy
    took seconds each, two thirds of this module's time; the code the members run is the same."""
    source = functools.partial(space._torch.torch_source, canonical="(not computed by the tests)")
    with mock.patch.object(space._torch, "torch_source", source):
        return [compile_module(e, num_channels=channels, channel_dim=channel_dim) for e in exprs]


def _site(exprs: Sequence[Expr], shape: tuple[int, ...], split_dim: int, channel_dim: int,
          seed: int = 0) -> StackedActivation:
    k = len(exprs)
    channels = shape[channel_dim] // k if channel_dim % len(shape) == split_dim % len(shape) else shape[channel_dim]
    gen = torch.Generator().manual_seed(seed)
    acts = _compile_members(exprs, channels, channel_dim)
    with torch.no_grad():
        for act in acts:
            for p in act.parameters():  # away from the inits, so every β matters
                p.copy_(torch.rand(p.shape, generator=gen) + 0.5)
    return StackedActivation(acts, split_dim)


def _both(site: StackedActivation, x: torch.Tensor,
          device: str = "cpu") -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """(values, x-gradient, β-gradients) fused on ``device``, then by the members' PyTorch code
    there; returned on the CPU."""
    site = site.to(device)
    out = []
    gy = torch.randn(x.shape, generator=torch.Generator().manual_seed(1)).to(device)
    for fused in (True, False):
        if not fused:
            site._fused = lambda x: None  # type: ignore[method-assign]  # the members' own code
        site.zero_grad()
        xg = x.detach().clone().to(device).requires_grad_()
        y = site(xg)
        y.backward(gy)
        if fused:  # the comparison means nothing if the kernels quietly fell back
            kernels = site._cuda_kernels if device.startswith("cuda") else site._kernels
            assert kernels and all(k is not None for k in kernels.values())
        out.append([t.cpu() for t in (y.detach(), xg.grad, *[p.grad if p.grad is not None else torch.zeros_like(p)
                                                            for p in site.parameters()])])
    del site._fused
    return out[0], out[1]


def _close(got: torch.Tensor, want: torch.Tensor, rtol: float, what: str) -> None:
    scale = want.abs().nan_to_num(posinf=0, neginf=0).max().clamp(min=1.0)
    err = (got - want).abs()
    bad = ~((err <= rtol * want.abs() + rtol * 1e-2 * scale) | (got.isnan() & want.isnan()) | (got == want))
    assert not bad.any(), f"{what}: fused {got[bad][:5].tolist()} vs torch {want[bad][:5].tolist()}"


def _operator_cases() -> list[Expr]:
    """Every tree operator on x (binary ones on x and tanh(x): both partial derivatives count)."""
    cases = []
    for name, op in OPERATORS.items():
        if not op.in_tree:
            continue
        param = "beta" if op.has_beta else None
        if name == "powi":
            cases.append(call(name, X, exponent=5))
        elif op.arity == 1:
            cases.append(call(name, X, param=param))
        else:
            cases.append(call(name, X, call("tanh", X), param=param))
    return cases


def test_every_operator_has_a_c_form() -> None:
    # an operator without one still trains (its PyTorch code runs), but a population holding it
    # loses the fused speed: adding an operator means adding its C form
    assert {n for n, op in OPERATORS.items() if op.in_tree} <= set(C_OPERATORS)


def test_a_plugin_operator_is_fused_with_a_c_form_and_runs_its_torch_code_without(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # docs/deploy.md's plug-in operator, which declares no C form, then the same with one
    plain = Operator(name="softsign2", arity=1, sympy=lambda u: u / (1 + u**2),
                     reference=lambda u: u / (1 + np.square(u)), torch="{0} / (1 + torch.square({0}))",
                     numpy="{0} / (1 + {xp}.square({0}))", latex="\\frac{{{0}}}{{1 + \\left({0}\\right)^{{2}}}}",
                     cost=2)
    monkeypatch.setitem(OPERATORS, "softsign2", plain)
    expr = call("softsign2", call("sin", X))
    assert not c_supported(expr) and "softsign2" not in C_OPERATORS
    assert _fused.population_kernel([expr]) is None  # the members run their torch code
    c = c_unary("{a} / (1.0f + {a} * {a})", "(1.0f - {a} * {a}) / ((1.0f + {a} * {a}) * (1.0f + {a} * {a}))")
    monkeypatch.setitem(OPERATORS, "softsign2", replace(plain, c=c))
    assert c_supported(expr) and C_OPERATORS["softsign2"] is c
    check_operator(expr)


def check_operator(expr: Expr, device: str = "cpu") -> None:
    """``expr``'s fused values and gradients equal its PyTorch code's on ``device``, at the
    special points and at random ones."""
    values = torch.tensor(SPECIAL, dtype=torch.float32)
    x = torch.cat([values, torch.randn(4 * 3 * 64 - len(SPECIAL), generator=torch.Generator().manual_seed(2)) * 3])
    site = _site([expr, parse("sin(x)"), expr, expr], (4, 3, 64), split_dim=0, channel_dim=-1)
    fused, ref = _both(site, x.reshape(4, 3, 64), device)
    for what, got, want in zip(["value", "d/dx", *(f"d/d{n}" for n, _ in site.named_parameters())], fused, ref,
                               strict=True):
        _close(got, want, 2e-5 if what == "value" else 1e-4, f"{expr} {what}")


@pytest.mark.parametrize("expr", _operator_cases(), ids=[e.op for e in _operator_cases()])
def test_operator_matches_torch_values_and_gradients(expr: Expr) -> None:
    assert c_supported(expr)
    check_operator(expr)


def _random_exprs(count: int, seed: int) -> list[Expr]:
    rng = random.Random(seed)
    unary = tuple(n for n, op in OPERATORS.items() if op.arity == 1 and op.searchable)
    binary = tuple(n for n, op in OPERATORS.items() if op.arity == 2 and op.searchable)
    spaces = [Space(unary=unary, binary=binary, units=2, min_units=1),
              Space(form="tree", unary=tuple(u for u in unary if u not in ("x", "beta")), binary=binary,
                    max_size=11, max_depth=5)]
    out: list[Expr] = []
    while len(out) < count:
        space = spaces[len(out) % 2]
        expr = space.to_expr(space.sample(rng))
        if expr.depends_on_x():
            out.append(expr)
    return out


LAYOUTS = pytest.mark.parametrize(("shape", "split_dim", "channel_dim"), [
    ((8, 16, 24), 0, -1),          # MLP: [K, B, H]
    ((6, 8 * 4, 5, 5), 1, 1),      # CNN: [B, K*C, H, W]
    ((8, 3, 7, 12), 0, -1),        # transformer: [K, B, T, C]
], ids=["mlp", "cnn", "sequence"])


def check_random_expressions(shape: tuple[int, ...], split_dim: int, channel_dim: int, device: str = "cpu") -> None:
    """Populations of random deep expressions: fused values and gradients equal the PyTorch code's."""
    k = shape[split_dim] if split_dim == 0 else 8
    for batch in range(3):
        exprs = _random_exprs(k, seed=10 * batch + len(shape))
        site = _site(exprs, shape, split_dim, channel_dim, seed=batch)
        x = torch.randn(shape, generator=torch.Generator().manual_seed(batch)) * 2
        fused, ref = _both(site, x, device)
        for what, got, want in zip(["value", "d/dx", *(n for n, _ in site.named_parameters())], fused, ref,
                                   strict=True):
            _close(got, want, 1e-3, f"{what} of {[str(e) for e in exprs]}")


@LAYOUTS
def test_random_expressions_match_torch_on_every_layout(shape: tuple[int, ...], split_dim: int, channel_dim: int) -> None:
    check_random_expressions(shape, split_dim, channel_dim)


def test_results_do_not_depend_on_the_number_of_threads() -> None:
    exprs = _random_exprs(4, seed=5) + [parse("x * sigmoid(beta * x)")] * 4
    site = _site(exprs, (8, 512, 96), 0, -1)  # several work items per member
    x = torch.randn(8, 512, 96, generator=torch.Generator().manual_seed(3))
    before = torch.get_num_threads()
    try:
        results = []
        for threads in (1, 2):
            torch.set_num_threads(threads)
            results.append(_both(site, x)[0])
    finally:
        torch.set_num_threads(before)
    for a, b in zip(*results, strict=True):
        assert torch.equal(a, b)


def test_nan_inputs_stay_nan() -> None:
    # relu(NaN) computed as a comparison would give 0 and hide a diverging network
    site = _site([parse("relu(x)"), parse("max(x, 0.5)"), parse("min(tanh(x), 1)"), parse("beta*x")],
                 (4, 2, 8), 0, -1)
    x = torch.randn(4, 2, 8)
    x[:, 0, 3] = math.nan
    x.requires_grad_()
    y = site(x)
    y.sum().backward()
    assert y[:, 0, 3].isnan().all() and x.grad is not None and x.grad[:, 0, 3].isnan().all()
    assert not y[:, 1].isnan().any()


@pytest.mark.usefixtures("training_thread")  # conftest.py: 15-28 s on two busy threads, 2 s on one
@pytest.mark.parametrize("bf16", [False, True])
def test_population_trains_like_its_pytorch_code(monkeypatch: pytest.MonkeyPatch, bf16: bool) -> None:
    task = get_task("mnist1d-mlp")
    members = [Member(parse(t), seed=i) for i, t in enumerate(["x * sigmoid(beta * x)", "max(sin(x), tanh(x))",
                                                                "asinh(x) - relu(x)", "gauss(x) + erf(x)"])]

    def run() -> list[float]:
        result = train_population(task, members, steps=40, policy=RejectionPolicy.off(), bf16=bf16)
        return [r.metrics["val_loss"] for r in result.results]

    fused = run()
    monkeypatch.setenv(_fused.FUSED_ENV, "0")
    # bf16: the kernel computes in float32 and rounds once, the members' code rounds every op
    assert fused == pytest.approx(run(), rel=2e-2 if bf16 else 2e-3)


def test_bf16_activations_run_the_float32_kernel_and_round_once() -> None:
    exprs = [parse("x * sigmoid(beta * x)"), parse("max(sin(x), tanh(x))")]
    site = _site(exprs, (2, 64, 16), 0, 1)
    x = torch.randn(2, 64, 16).bfloat16().requires_grad_()
    y = site._fused(x)
    assert y is not None and y.dtype == torch.bfloat16  # the kernel ran, not the members' code
    want = torch.cat([act(x.detach()[i:i + 1].float()) for i, act in enumerate(site.members)])
    torch.testing.assert_close(y, want.bfloat16(), rtol=8e-3, atol=1e-6)  # one bf16 ulp
    y.float().sum().backward()
    assert x.grad is not None and x.grad.dtype == torch.bfloat16 and x.grad.isfinite().all()


def test_falls_back_to_pytorch_code(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    exprs = [parse("tanh(x)"), parse("x * sigmoid(x)")]
    assert _fused.population_kernel(exprs) is not None
    monkeypatch.setenv(_fused.FUSED_ENV, "0")
    assert _fused.population_kernel(exprs) is None
    monkeypatch.delenv(_fused.FUSED_ENV)

    # no compiler: a warning, and the members' own code
    monkeypatch.setattr(_fused, "_compiler", lambda: None)
    with caplog.at_level(logging.WARNING, logger="evaluator._fused"):
        assert _fused.population_kernel([parse("sin(x) * cos(x)")]) is None
    assert "no C compiler" in caplog.text
    site = _site([parse("sin(x) * cos(x)"), parse("relu(x)")], (2, 3, 4), 0, -1)
    x = torch.randn(2, 3, 4)
    assert torch.equal(site(x), torch.cat([torch.sin(x[:1]) * torch.cos(x[:1]), torch.relu(x[1:])]))


def test_modules_that_are_not_candidates_run_as_they_are() -> None:
    site = StackedActivation([torch.nn.ReLU(), torch.nn.Tanh()], split_dim=0)
    x = torch.randn(2, 3, 4)
    assert torch.equal(site(x), torch.cat([torch.relu(x[:1]), torch.tanh(x[1:])]))


def test_a_compiler_error_falls_back_with_a_warning(monkeypatch: pytest.MonkeyPatch,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(_fused, "_compiler", lambda: ("/bin/false", "a compiler that always fails"))
    with caplog.at_level(logging.WARNING, logger="evaluator._fused"):
        assert _fused.population_kernel([parse("atan(x) * x")]) is None
    assert "compiling fused kernels failed" in caplog.text


def test_an_unwritable_cache_builds_in_a_temporary_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("")  # the cache "folder" is a file: creating kernels/ in it fails
    monkeypatch.setattr(_fused, "cache_dir", lambda: blocked)
    with caplog.at_level(logging.WARNING, logger="evaluator._fused"):
        kernel = _fused.population_kernel([parse("erf(x) - x")])
    assert kernel is not None and "temporary folder" in caplog.text


def _compositions() -> list[Expr]:
    """Every operator inside and beside the selects of max/min/relu (binary ones around maths
    calls): where GCC has moved maths calls into branches and left a loop scalar
    (cos(max(x, sin(x))), max(x, relu(x)) and min(softplus(x), x) each did once)."""
    relu, sin = call("relu", X), call("sin", X)
    cases = []
    for op in _operator_cases():
        if len(op.args) == 1:
            cases += [replace(op, args=(call("max", X, sin),)), call("max", op, relu), call("min", op, X)]
        else:
            cases += [replace(op, args=(sin, relu)), call("cos", replace(op, args=(X, sin)))]
    return list(dict.fromkeys(cases))


@pytest.mark.parametrize("isa", ["x86-64-v3", "x86-64-v4"])
@pytest.mark.parametrize("cases", [_operator_cases, _compositions], ids=["operators", "compositions"])
def test_every_kernel_loop_is_vectorised(tmp_path: Path, cases: Callable[[], list[Expr]], isa: str) -> None:
    # GCC's vectoriser report (evaluator._vectoriser) for both levels, whatever CPU runs the
    # test: AVX2 needs branch-free code where AVX-512's masks hide a branch (the suite was red on
    # a Zen 3 while green on AVX-512 machines).
    compiler = _fused._compiler()
    assert compiler is not None
    if "gcc version" not in subprocess.run([compiler[0], "-v"], capture_output=True, text=True).stderr:
        pytest.skip(f"the report is GCC's; the compiler is {compiler[1]}")
    if not _c_target.is_x86_64():
        pytest.skip(f"x86-64 levels are checked by x86-64 compilers; this machine is {platform.machine()}")
    report = kernel_loops(compiler[0], _fused.compile_flags(isa), cases(), tmp_path, _fused._LIBS)
    assert not report.scalar, f"{len(report.scalar)} scalar kernel loops for {isa}; the first:\n{report.scalar[0]}"
