"""The CUDA population kernel's source (``space._cuda_source``), checked without a GPU.

The source is one C++ template function for PyTorch's jiterator. Compiled here as host C++
(with the one CUDA intrinsic it uses shimmed), it must compute every operator's value and
local derivatives as the PyTorch code does — the same differential contract as the CPU
kernels' — so a new operator whose C template needs a helper the CUDA prelude lacks fails in
CI, not on the first GPU. ``tests/evaluator/test_cuda.py`` runs the real kernel on a GPU.
"""

from __future__ import annotations

import ctypes
import math
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch

from space import compile_module, parse, population_cuda_source
from space._expr import Expr
from tests.evaluator.test_fused import _operator_cases

CXX = shutil.which("g++") or shutil.which("c++")
pytestmark = pytest.mark.skipif(CXX is None, reason="needs a C++ compiler")

POINTS = [0.0, -0.0, 1e-7, -1e-7, 0.25, -0.25, 0.4999, 0.5, -0.5, 1.0, -1.0, 2.9, -2.9, 3.0, -3.0, 3.1,
          19.9, 20.0, 20.1, -20.1, 79.0, 81.0, -81.0, 88.8, -104.0, 1e3, -1e3]
BETA = 0.7


def _cases() -> list[Expr]:
    return [*_operator_cases(), parse("x*sigmoid(beta*x) + max(x, sin(x))"), parse("gauss_diff(x, sin(x), beta) * x")]


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory) -> tuple[ctypes.CDLL, list[Expr]]:
    cases = _cases()
    source = population_cuda_source(cases, slots=1)
    name = source.split("void ", 1)[1].split("(", 1)[0]
    folder = tmp_path_factory.mktemp("cuda_source")
    (folder / "kernel.cpp").write_text(f"""#include <cmath>
#include <cstring>
static inline float __int_as_float(int i) {{ float f; std::memcpy(&f, &i, 4); return f; }}
{source}
extern "C" void run(long n, const float *x, const float *m, const float *p, float *y, float *d, float *dp) {{
    for (long i = 0; i < n; i++) {name}<float>(x[i], m[i], p[i], y[i], d[i], dp[i]);
}}
""")
    assert CXX is not None
    subprocess.run([CXX, "-std=c++17", "-O1", "-fPIC", "-shared", "-o", str(folder / "k.so"),
                    str(folder / "kernel.cpp")], check=True, capture_output=True, text=True)
    return ctypes.CDLL(str(Path(folder / "k.so"))), cases


def _run(lib: ctypes.CDLL, member: int, points: list[float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Values, d/dx and d/dβ of ``member``'s expression at ``points`` (β = BETA)."""
    n = len(points)
    x = np.asarray(points, dtype=np.float32)
    m, p = np.full(n, member, dtype=np.float32), np.full(n, BETA, dtype=np.float32)
    y, d, dp = np.empty(n, np.float32), np.empty(n, np.float32), np.empty(n, np.float32)
    floats = ctypes.POINTER(ctypes.c_float)
    lib.run(ctypes.c_long(n), *(a.ctypes.data_as(floats) for a in (x, m, p, y, d, dp)))
    return y, d, dp


def test_every_operator_and_its_derivatives_match_the_pytorch_code(kernel: tuple[ctypes.CDLL, list[Expr]]) -> None:
    lib, cases = kernel
    n, x = len(POINTS), np.asarray(POINTS, dtype=np.float32)
    for member, expr in enumerate(cases):
        y, d, dp = _run(lib, member, POINTS)
        module = compile_module(expr, num_channels=n, channel_dim=-1)
        params = list(module.parameters())
        with torch.no_grad():
            for param in params:
                param.fill_(BETA)
        xt = torch.tensor(POINTS, dtype=torch.float32, requires_grad=True)
        module(xt).sum().backward()
        want = [module(xt).detach().numpy(), xt.grad.numpy(),  # type: ignore[union-attr]
                params[0].grad.numpy() if params else np.zeros(n, np.float32)]  # type: ignore[union-attr]
        for what, got, ref in zip(("value", "d/dx", "d/dbeta"), (y, d, dp), want, strict=True):
            close = np.isclose(got, ref, rtol=1e-4, atol=1e-5, equal_nan=True)
            assert close.all(), f"{expr} {what} at x={x[~close][:4]}: {got[~close][:4]} vs {ref[~close][:4]}"


def test_nan_inputs_give_nan_values_and_gradients(kernel: tuple[ctypes.CDLL, list[Expr]]) -> None:
    # as on the CPU: relu(NaN) computed by a comparison would be 0 and hide a diverging network
    lib, cases = kernel
    for member, expr in enumerate(cases):
        y, d, _ = _run(lib, member, [math.nan])
        assert math.isnan(y[0]) and math.isnan(d[0]), expr


def test_a_population_with_too_many_parameters_is_refused() -> None:
    with pytest.raises(ValueError, match="CUDA kernel"):
        population_cuda_source([parse("x*sigmoid(beta*x)")], slots=0)
