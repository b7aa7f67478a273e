"""When the fused CUDA kernel may fall back to the members' PyTorch code, and when it must not.

Only a failure of the kernel's first call is a compile failure (NVRTC compiles there): the
population then trains with its PyTorch code after a warning. A failure after that, or an
out-of-memory error, is a real error of the run and is raised. These run without a GPU: the
kernel is built for real (the jiterator function is created lazily), and its launch is
replaced by one that fails as NVRTC or the allocator would; ``test_cuda.py`` runs it on a GPU.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
import torch

from evaluator import _fused_cuda
from evaluator._fused import member_layout
from space import parse

EXPRS = [parse("x*sigmoid(beta*x)"), parse("sin(x)")]


def _failing(error: Exception) -> Any:
    def launch(*tensors: torch.Tensor) -> tuple[torch.Tensor, ...]:
        raise error
    return launch


def _kernel(exprs: list[Any]) -> _fused_cuda.CudaPopulationKernel:
    kernel = _fused_cuda.cuda_population_kernel(exprs)
    assert kernel is not None
    return kernel


def _apply(kernel: _fused_cuda.CudaPopulationKernel) -> torch.Tensor | None:
    x = torch.randn(2, 4, 3)
    layout = member_layout(tuple(x.shape), 2, 0, -1)
    assert layout is not None
    return _fused_cuda.apply(kernel, x, layout, [[torch.ones(3, requires_grad=True)], []])


def test_a_kernel_that_does_not_compile_falls_back_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    exprs = [EXPRS[0], parse("cos(x) * x")]  # a population of its own: the failure is remembered per source
    kernel = _kernel(exprs)
    kernel._fn = _failing(RuntimeError("default_program(12): error: identifier \"as_foo\" is undefined"))
    with caplog.at_level(logging.WARNING):
        assert _apply(kernel) is None
    assert "compiling the fused CUDA kernel failed" in caplog.text and "as_foo" in caplog.text
    assert _fused_cuda.cuda_population_kernel(exprs) is None  # not tried again in this process


@pytest.mark.parametrize("error", [torch.OutOfMemoryError("CUDA out of memory"), RuntimeError("illegal address")],
                         ids=["out-of-memory", "after-the-first-call"])
def test_run_errors_are_raised_not_hidden(error: RuntimeError) -> None:
    kernel = _kernel(EXPRS)
    if not isinstance(error, torch.OutOfMemoryError):
        kernel.compiled = True  # it ran before: this is no compile error
    original = kernel._fn
    kernel._fn = _failing(error)
    try:
        with pytest.raises(type(error)):
            _apply(kernel)
        assert _fused_cuda.cuda_population_kernel(EXPRS) is kernel  # still used next time
    finally:
        kernel._fn, kernel.compiled = original, False


def test_populations_beyond_the_kernel_run_their_pytorch_code() -> None:
    six = parse("beta*x + beta2*sin(x) + beta3*cos(x) + beta4*tanh(x) + beta5*erf(x) + beta6*atan(x)")
    assert _fused_cuda.cuda_population_kernel([six]) is not None
    seven = parse("beta*x + beta2*sin(x) + beta3*cos(x) + beta4*tanh(x) + beta5*erf(x) + beta6*atan(x) + beta7*x^2")
    assert _fused_cuda.cuda_population_kernel([seven]) is None  # 9 tensors: more than the jiterator takes
