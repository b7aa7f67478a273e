"""Overhead of our compiled activations against torch's built-in kernels.

Forward + backward on 1M fp32 elements on the CPU (torch's default thread count), median of
several repeats after a warm-up; ours and the built-in run back to back in each repeat and the
reported ratio is the median of the per-repeat ratios, so drift in the machine's load hits both.
The last stdout line is a JSON object of time ratios ours / built-in (target <= 1.3):

* ``silu``, ``gelu``, ``mish``, ``softplus``, ``elu`` – the opt-in fused path
  (``compile_function(expr, fused=True)``) on the written forms ``x*sigmoid(x)``, ``gelu(x)``,
  ``x*tanh(softplus(x))``, ``softplus(x)``, ``elu(x)``;
* ``*_unfused`` – the same forms on the default eager path (one kernel per operator);
* ``*_formula`` – textbook formulas (the exact GELU with erf, ``log(1+exp(x))``, the ELU
  from max/min/exp), fused where a pattern applies.

Run: ``.venv/bin/python bench/compile_overhead.py [--repeats 21]``
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F

from space import compile_function, parse

N = 1_000_000
GELU_ERF = "0.5*x*(1+erf(x/sqrt(2)))"
GELU_TANH = "0.5*x*(1+tanh(sqrt(2/pi)*(x+0.044715*x^3)))"

# key -> (our expression text, fused?, built-in)
CASES: dict[str, tuple[str, bool, Callable[[torch.Tensor], torch.Tensor]]] = {
    "silu": ("x*sigmoid(x)", True, F.silu),
    "gelu": ("gelu(x)", True, F.gelu),
    "mish": ("x*tanh(softplus(x))", True, F.mish),
    "softplus": ("softplus(x)", True, F.softplus),
    "elu": ("elu(x)", True, F.elu),
    "silu_unfused": ("x*sigmoid(x)", False, F.silu),
    "mish_unfused": ("x*tanh(softplus(x))", False, F.mish),
    "gelu_formula": (GELU_ERF, True, F.gelu),
    "gelu_formula_unfused": (GELU_ERF, False, F.gelu),
    "gelu_tanh_formula": (GELU_TANH, True, lambda x: F.gelu(x, approximate="tanh")),
    "gelu_tanh_formula_unfused": (GELU_TANH, False, lambda x: F.gelu(x, approximate="tanh")),
    "softplus_formula": ("log(1+exp(x))", True, F.softplus),
    "elu_formula": ("max(x,0)+min(0,exp(x)-1)", False, F.elu),
}


def _step(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, g: torch.Tensor) -> None:
    fn(x).backward(g)
    x.grad = None


def _time(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, g: torch.Tensor, inner: int) -> float:
    start = time.perf_counter()
    for _ in range(inner):
        _step(fn, x, g)
    return (time.perf_counter() - start) / inner


def measure(
    ours: Callable[[torch.Tensor], torch.Tensor],
    builtin: Callable[[torch.Tensor], torch.Tensor],
    *,
    repeats: int,
    inner: int,
) -> tuple[float, float, float]:
    """Median seconds per forward+backward of ``ours`` and ``builtin``, and the median of the
    per-repeat ratios (robust to other load on the machine: each pair runs back to back)."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(N, generator=gen).mul_(3.0).requires_grad_(True)
    g = torch.randn(N, generator=gen)
    for _ in range(3):  # warm-up: allocator, lazy kernel initialisation
        _step(ours, x, g)
        _step(builtin, x, g)
    t_ours, t_builtin, ratios = [], [], []
    for _ in range(repeats):
        t_ours.append(_time(ours, x, g, inner))
        t_builtin.append(_time(builtin, x, g, inner))
        ratios.append(t_ours[-1] / t_builtin[-1])
    return statistics.median(t_ours), statistics.median(t_builtin), statistics.median(ratios)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=21)
    parser.add_argument("--inner", type=int, default=5)
    args = parser.parse_args()

    ratios: dict[str, float] = {}
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {N:,} fp32 elements, fwd+bwd")
    print(f"{'case':<28}{'expression':<46}{'ours ms':>9}{'torch ms':>10}{'ratio':>7}")
    for key, (text, fused, builtin) in CASES.items():
        ours = compile_function(parse(text), fused=fused)
        t_ours, t_builtin, ratio = measure(ours, builtin, repeats=args.repeats, inner=args.inner)
        ratios[key] = round(ratio, 3)
        print(f"{key:<28}{text:<46}{t_ours * 1e3:>9.3f}{t_builtin * 1e3:>10.3f}{ratios[key]:>7.2f}")
    print(json.dumps(ratios))


if __name__ == "__main__":
    main()
