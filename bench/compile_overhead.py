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
  from max/min/exp), fused where a pattern applies;
* ``*_c_kernel`` – the same functions as the population training runs them on a CPU: the C
  kernel ``space._c_source`` writes and ``evaluator._fused`` compiles, vectorised for the level
  in ``kernel_isa`` (the ratio that depends on the CPU's vector ISA).

``inductor``: the choice of our own C generator over ``torch.compile``, measured on a population
of ``--population`` distinct random candidates (one unit of a Swish-like space), each applied to
a ``[256, 128]`` activation, forward and backward: the seconds to compile them all (one C
library for all members; inductor compiles each function) and per training step of all members.

Run: ``.venv/bin/python bench/compile_overhead.py [--repeats 21] [--population 16] [--no-inductor]``
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import tempfile
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F

from evaluator import _fused
from evaluator._c_target import describe_cpu
from evaluator._stacked import StackedActivation
from space import Expr, Space, compile_function, compile_module, parse

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
C_KERNEL_CASES = {key: CASES[key] for key in ("silu", "gelu", "mish", "softplus", "elu")}


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


def c_kernel(text: str) -> Callable[[torch.Tensor], torch.Tensor]:
    """``text`` run by the fused C kernel on ``[N]`` (one member of a population, as rows of
    1,000 features: the kernels split work by rows, so a single row would run on one thread)."""
    site = StackedActivation([compile_module(parse(text), num_channels=None)], split_dim=0)
    if _fused.population_kernel([parse(text)]) is None:
        raise SystemExit(f"no fused C kernel for {text} here (a C compiler and glibc's libmvec are needed)")
    return lambda x: site(x.view(1, -1, 1000)).view(-1)


def distinct_candidates(count: int, seed: int = 0) -> list[Expr]:
    space = Space(unary=("x", "neg", "abs", "square", "sigmoid", "tanh", "sin", "exp", "relu", "erf", "atan"),
                  binary=("add", "mul", "sub", "max", "min"), units=1)
    rng, out = random.Random(seed), []
    while len(out) < count:
        expr = space.to_expr(space.sample(rng))
        if expr.depends_on_x() and expr not in out:
            out.append(expr)
    return out


def population_step(fns: list[Callable[[torch.Tensor], torch.Tensor]], x: torch.Tensor, g: torch.Tensor) -> None:
    for i, fn in enumerate(fns):
        fn(x[i]).backward(g[i])
    x.grad = None


def inductor_against_ours(count: int, repeats: int) -> dict[str, float]:
    """Compile seconds and fwd+bwd milliseconds per step of ``count`` distinct candidates."""
    exprs = distinct_candidates(count)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(count, 256, 128, generator=gen).requires_grad_(True)
    g = torch.randn(count, 256, 128, generator=gen)
    with tempfile.TemporaryDirectory() as cache:
        os.environ[_fused.KERNEL_CACHE_ENV] = cache  # a cold cache: the compile is timed
        began = time.perf_counter()
        site = StackedActivation([compile_module(e, num_channels=128) for e in exprs], split_dim=0)
        site(x).backward(g)
        ours_compile = time.perf_counter() - began
        ours = [lambda t: site(t)]
        ours_step = statistics.median(_time_population(ours, x.unsqueeze(0), g.unsqueeze(0)) for _ in range(repeats))
    torch._dynamo.reset()
    began = time.perf_counter()
    compiled = [torch.compile(compile_function(e)) for e in exprs]
    population_step(compiled, x, g)  # inductor compiles on the first call, forward and backward
    inductor_compile = time.perf_counter() - began
    inductor_step = statistics.median(_time_population(compiled, x, g) for _ in range(repeats))
    return {"candidates": count, "ours_compile_s": round(ours_compile, 2), "inductor_compile_s": round(inductor_compile, 2),
            "ours_step_ms": round(ours_step * 1e3, 3), "inductor_step_ms": round(inductor_step * 1e3, 3)}


def _time_population(fns: list[Callable[[torch.Tensor], torch.Tensor]], x: torch.Tensor, g: torch.Tensor) -> float:
    start = time.perf_counter()
    for _ in range(5):
        population_step(fns, x, g)
    return (time.perf_counter() - start) / 5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=21)
    parser.add_argument("--inner", type=int, default=5)
    parser.add_argument("--population", type=int, default=16, help="distinct candidates for the inductor baseline")
    parser.add_argument("--no-inductor", action="store_true", help="skip the torch.compile baseline (minutes)")
    args = parser.parse_args()

    ratios: dict[str, float] = {}
    cpu = describe_cpu()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {N:,} fp32 elements, fwd+bwd; "
          f"{cpu['cpu']}, kernels built for {cpu['kernel_isa']}")
    print(f"{'case':<28}{'expression':<46}{'ours ms':>9}{'torch ms':>10}{'ratio':>7}")
    rows = [(key, text, compile_function(parse(text), fused=fused), builtin)
            for key, (text, fused, builtin) in CASES.items()]
    rows += [(f"{key}_c_kernel", text, c_kernel(text), builtin) for key, (text, _, builtin) in C_KERNEL_CASES.items()]
    for key, text, ours, builtin in rows:
        t_ours, t_builtin, ratio = measure(ours, builtin, repeats=args.repeats, inner=args.inner)
        ratios[key] = round(ratio, 3)
        print(f"{key:<28}{text:<46}{t_ours * 1e3:>9.3f}{t_builtin * 1e3:>10.3f}{ratios[key]:>7.2f}")
    inductor = None
    if not args.no_inductor:
        inductor = inductor_against_ours(args.population, max(3, args.repeats // 4))
        print(f"{args.population} distinct candidates, [256, 128] each, fwd+bwd: compile ours "
              f"{inductor['ours_compile_s']} s, inductor {inductor['inductor_compile_s']} s; per step ours "
              f"{inductor['ours_step_ms']} ms, inductor {inductor['inductor_step_ms']} ms")
    print(json.dumps({**cpu, "threads": torch.get_num_threads(), "ratios": ratios, "inductor": inductor}))


if __name__ == "__main__":
    main()
