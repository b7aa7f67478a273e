"""The vector ISA the fused CPU kernels are built for (``evaluator._c_target``), and what each
level computes: every level this CPU runs is built and checked here, so the AVX2 code is tested
on AVX-512 machines too."""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from evaluator import _c_target, _fused
from space import OPERATORS, X, call, compile_module, parse
from tests.evaluator.test_fused import SPECIAL, check_random_expressions

ZEN3 = frozenset(("fpu sse sse2 pni ssse3 fma cx16 sse4_1 sse4_2 movbe popcnt xsave avx f16c lahf_lm abm "
                  "bmi1 avx2 bmi2 sha_ni").split())
SAPPHIRE_RAPIDS = ZEN3 | {"avx512f", "avx512dq", "avx512cd", "avx512bw", "avx512vl", "avx512_bf16"}


@pytest.fixture(autouse=True)
def _fresh_level(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(_fused, "cache_dir", lambda: tmp_path / "cache")
    _c_target.kernel_isa.cache_clear()
    yield
    _c_target.kernel_isa.cache_clear()


def runnable_levels() -> list[str]:
    """The levels from AVX2 up that this CPU runs (none off x86-64 or below AVX2)."""
    levels = list(_c_target.X86_LEVELS)
    host = _c_target.host_level()
    return levels[levels.index("x86-64-v3"):levels.index(host) + 1] if host in levels[2:] else []


def test_the_level_is_the_highest_one_the_cpu_flags_allow() -> None:
    assert _c_target.host_level(ZEN3) == "x86-64-v3"
    assert _c_target.host_level(SAPPHIRE_RAPIDS) == "x86-64-v4"
    assert _c_target.host_level(SAPPHIRE_RAPIDS - {"avx512bw"}) == "x86-64-v3"  # a partial AVX-512 (Knights)
    assert _c_target.host_level(ZEN3 - {"movbe"}) == "x86-64-v2"  # a hypervisor hiding a v3 flag
    assert _c_target.host_level(frozenset({"sse", "sse2"})) == "x86-64"


def test_other_architectures_build_for_the_native_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_c_target.platform, "machine", lambda: "aarch64")
    assert _c_target.host_level() == _c_target.NATIVE
    assert _c_target.march_flags(_c_target.NATIVE) == ("-march=native",)


def test_a_lower_level_can_be_chosen(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_c_target, "host_level", lambda: "x86-64-v4")
    monkeypatch.setenv(_c_target.ISA_ENV, "x86-64-v3")
    assert _c_target.kernel_isa() == "x86-64-v3"
    assert "-march=x86-64-v3" in _fused.compile_flags()


@pytest.mark.parametrize("wanted", ["x86-64-v4", "avx512", "native"])
def test_a_level_the_cpu_cannot_run_is_refused_with_one_warning(monkeypatch: pytest.MonkeyPatch,
                                                               caplog: pytest.LogCaptureFixture,
                                                               wanted: str) -> None:
    # its code would stop the process with an illegal instruction, not fall back
    monkeypatch.setattr(_c_target, "host_level", lambda: "x86-64-v3")
    monkeypatch.setenv(_c_target.ISA_ENV, wanted)
    with caplog.at_level(logging.WARNING, logger="evaluator._c_target"):
        assert _c_target.kernel_isa() == "x86-64-v3"
        assert _c_target.kernel_isa() == "x86-64-v3"
    assert len(caplog.records) == 1 and wanted in caplog.text and "x86-64-v3" in caplog.text


@pytest.mark.skipif(len(runnable_levels()) < 2, reason="needs a CPU that runs two levels (AVX-512)")
def test_a_shared_cache_keeps_one_library_per_level(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # one home directory on machines of different CPUs: each loads only a library its CPU runs
    exprs = [parse("x * tanh(softplus(x))")]
    built = []
    for level in runnable_levels():
        monkeypatch.setenv(_c_target.ISA_ENV, level)
        _c_target.kernel_isa.cache_clear()
        assert _fused.population_kernel(exprs) is not None
        built.append(set((tmp_path / "cache" / "kernels").glob("pop_*.so")))
    assert len(built[-1]) == len(built) and built[0] < built[-1]


@pytest.mark.parametrize("level", runnable_levels() or ["none"])
def test_each_level_trains_like_the_pytorch_code(monkeypatch: pytest.MonkeyPatch, level: str) -> None:
    if level == "none":
        pytest.skip("this CPU runs no vector level of x86-64 (AVX2 or AVX-512)")
    monkeypatch.setenv(_c_target.ISA_ENV, level)
    check_random_expressions((8, 16, 24), 0, -1)
    assert f"-march={level}" in _fused.compile_flags()


# Error bounds of every unary operator's fused value and derivative against a float64 reference
# (its PyTorch code in float64 on the same float32 inputs), in float32 ulps of max(|reference|,
# 2^-6): relative where the result is of order one or more, absolute (about 1e-9) below, where a
# relative bound would measure the formula's own cancellation rather than the maths library.
# Measured on glibc 2.36's libmvec, AVX2 and AVX-512 (the larger of the two), then rounded up:
# most are 1-3 ulps; the large ones are the formula's conditioning, the same in PyTorch's code:
# log(|x| + eps) near |x| = 1 (log1p-like cancellation, 25), GELU's 1 + erf(x/sqrt 2) for
# x < -4 (330), tanh's and sigmoid's derivatives y(1-y) / 1-y^2 near saturation (63, 46), sinc's
# derivative cos(u)/u - sin(u)/u^2 (20), hardswish's x/3 + 1/2 (11).
ULPS: dict[str, tuple[float, float]] = {
    "neg": (0, 0), "abs": (0, 0), "square": (1, 0), "cube": (2, 2), "sqrt": (1, 2), "log_abs": (32, 2),
    "exp": (3, 3), "sin": (2, 2), "cos": (2, 2), "sinh": (2, 2), "cosh": (2, 2), "tanh": (2, 80),
    "asinh": (2, 2), "atan": (3, 2), "sinc": (2, 24), "relu": (0, 0), "min0": (0, 0), "sigmoid": (4, 60),
    "softplus": (4, 4), "gauss": (4, 7), "erf": (5, 6), "gelu": (400, 80), "softsign": (2, 4), "elu": (2, 3),
    "selu": (3, 3), "hardsigmoid": (1, 0), "hardswish": (2, 12),
}


def _ulps(got: torch.Tensor, want: torch.Tensor) -> torch.Tensor:
    scale = want.abs().clamp(min=2.0**-6).float()
    ulp = (torch.nextafter(scale, torch.tensor(math.inf)) - scale).double()
    both = want.isfinite() & got.isfinite()
    assert torch.equal(want.isfinite(), got.isfinite()), "fused and reference disagree on what is finite"
    return ((got.double() - want).abs() / ulp)[both]


@pytest.mark.parametrize("level", runnable_levels() or ["none"])
def test_unary_operators_keep_their_ulp_bounds(monkeypatch: pytest.MonkeyPatch, level: str) -> None:
    if level == "none":
        pytest.skip("this CPU runs no vector level of x86-64 (AVX2 or AVX-512)")
    monkeypatch.setenv(_c_target.ISA_ENV, level)
    gen = torch.Generator().manual_seed(0)
    # the guards' boundaries, the ordinary range densely, and the extremes
    x = torch.cat([torch.tensor(SPECIAL), torch.randn(20000, generator=gen) * 4, torch.linspace(-30, 30, 20001),
                   (torch.rand(5000, generator=gen) - 0.5) * 200])
    unary = [n for n, op in OPERATORS.items() if op.in_tree and op.arity == 1 and not op.has_beta and n != "powi"]
    assert set(unary) <= set(ULPS), f"no ulp bound for {sorted(set(unary) - set(ULPS))}"
    exprs = [call(name, X) for name in unary]
    kernel = _fused.population_kernel(exprs)  # one library, one member per operator
    assert kernel is not None
    xs = x.repeat(len(exprs), 1)
    layout = torch.tensor(_fused.member_layout(xs.shape, len(exprs), 0, 1), dtype=torch.int64)
    y, d, _ = kernel.forward_grad(xs, layout, torch.zeros(len(exprs), _fused.C_MAX_PARAMS, dtype=torch.int64))
    for m, (name, expr) in enumerate(zip(unary, exprs, strict=True)):
        module = compile_module(expr, num_channels=None).double()
        x64 = x.double().requires_grad_()
        want = module(x64)
        (dwant,) = torch.autograd.grad(want.sum(), x64)
        value_bound, grad_bound = ULPS[name]
        assert _ulps(y[m], want.detach()).max() <= value_bound, f"{name} on {level}"
        assert _ulps(d[m], dwant).max() <= grad_bound, f"d/dx {name} on {level}"
