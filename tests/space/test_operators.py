"""Every operator against its float64 oracle: values and gradients, fp32 and bf16.

"Safe" (``space._operators``): for finite inputs in [-1e4, 1e4] neither values nor gradients
(w.r.t. the operands and β) are NaN or infinite. The oracle is the operator's unguarded float64
``reference`` except where a guard deliberately changes the value; there it is the guarded
formula in :data:`GUARDS`, and that dictionary is the list of such places:

* exp: argument clamped above at 80 (exp(88) is already inf in fp32); sinh/cosh beyond ±80;
* log_abs: log(|x| + 1e-6) moves the value by ~1e-6/|x|, visibly (> 1e-7) for |x| < 10, and is finite at 0;
* sqrt: |x| < 1e-12 reads as 1e-12; gauss: |x| > 100 reads as 100 (the value is 0 either way);
* div: a denominator with |x2| < 1e-3 reads as ±1e-3 (0 as +1e-3);
* gauss_diff / abs_exp_diff: the exponent is clamped above at 70 when β < 0, and gauss_diff's
  difference is clamped to ±100.

Unary operators run through ``compile_function(call(op, x))``; binary ones (expressions have a
single input) through their torch template with the helpers it uses. β is passed as a tensor
shaped like the input, so its gradient is elementwise too.
"""

from __future__ import annotations

import fnmatch
import functools
import math
import re
import tomllib
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

import mpmath
import numpy as np
import pytest
import torch

from space import OPERATORS, X, call, compile_function, parse, population_cuda_source, population_source
from space._c_source import runtime_text
from space._codegen import helpers_used
from space._operators import (
    DIV_EPS,
    EXP_BETA_MAX,
    EXP_MAX,
    GAUSS_MAX,
    HYPERBOLIC_MAX,
    LOG_EPS,
    SQRT_EPS,
    TORCH_HELPERS,
)
from space._tape import Tape

Array = np.ndarray

# 0, the tiny, the kinks (0, ±3 for hard*), the exp/overflow edges of fp32 (80, 88, 100), and
# the domain edge 1e4.
SPECIAL = [0.0, 1e-7, 1e-3, 0.5, 1.0, 3.0, 80.0, 88.0, 100.0, 1e3, 1e4]
BETAS = (-1.5, 0.3, 2.0)  # besides the operator's init; negative β is reachable by training


SIGNED = np.array(sorted({s * v for v in SPECIAL for s in (1.0, -1.0)}))


def _grid_1d() -> Array:
    rng = np.random.default_rng(7)
    logs = rng.choice([-1.0, 1.0], 48) * 10.0 ** rng.uniform(-4, 4, 48)
    return np.concatenate([SIGNED, 3 * rng.standard_normal(48), logs]).astype(np.float32)


def _grid_2d() -> tuple[Array, Array]:
    rng = np.random.default_rng(8)
    a, b = (m.ravel() for m in np.meshgrid(SIGNED, SIGNED))  # includes a == b and b == 0
    ra = rng.choice([-1.0, 1.0], 64) * 10.0 ** rng.uniform(-4, 4, 64)
    rb = 3 * rng.standard_normal(64)
    same = 10.0 ** rng.uniform(-3, 4, 16)
    near_zero = rng.uniform(-2 * DIV_EPS, 2 * DIV_EPS, 16)  # denominators around the guard
    a = np.concatenate([a, ra, rb, same, 10 * rb[:16]])
    b = np.concatenate([b, rb, ra, same, near_zero])
    return a.astype(np.float32), b.astype(np.float32)


GRID_1D = _grid_1d()
GRID_2D = _grid_2d()


def _clip(v: Array, m: float) -> Array:
    return np.clip(v, -m, m)


def _div_guarded(a: Array, b: Array) -> Array:
    return a / np.where(np.abs(b) < DIV_EPS, np.where(b < 0, -DIV_EPS, DIV_EPS), b)


# op -> (where the guard changes the value, the guarded value); signatures like ``reference``
GUARDS: dict[str, tuple[Callable[..., Array], Callable[..., Array]]] = {
    "exp": (lambda x: x > EXP_MAX, lambda x: np.exp(np.minimum(x, EXP_MAX))),
    "sinh": (lambda x: np.abs(x) > HYPERBOLIC_MAX, lambda x: np.sinh(_clip(x, HYPERBOLIC_MAX))),
    "cosh": (lambda x: np.abs(x) > HYPERBOLIC_MAX, lambda x: np.cosh(_clip(x, HYPERBOLIC_MAX))),
    "log_abs": (lambda x: np.abs(x) < 10.0, lambda x: np.log(np.abs(x) + LOG_EPS)),
    "sqrt": (lambda x: np.abs(x) < SQRT_EPS, lambda x: np.sqrt(np.maximum(np.abs(x), SQRT_EPS))),
    "gauss": (lambda x: np.abs(x) > GAUSS_MAX, lambda x: np.exp(-np.square(_clip(x, GAUSS_MAX)))),
    "div": (lambda a, b: np.abs(b) < DIV_EPS, _div_guarded),
    "gauss_diff": (
        lambda a, b, beta: (np.abs(a - b) > GAUSS_MAX) | (-beta * np.square(a - b) > EXP_BETA_MAX),
        lambda a, b, beta: np.exp(np.minimum(-beta * np.square(_clip(a - b, GAUSS_MAX)), EXP_BETA_MAX)),
    ),
    "abs_exp_diff": (
        lambda a, b, beta: -beta * np.abs(a - b) > EXP_BETA_MAX,
        lambda a, b, beta: np.exp(np.minimum(-beta * np.abs(a - b), EXP_BETA_MAX)),
    ),
}

# Points where the derivative jumps (kinks and guard boundaries): finite differences skip them.
KINKS_1D: dict[str, tuple[float, ...]] = {
    **dict.fromkeys(("abs", "relu", "min0", "sqrt", "log_abs", "softsign", "elu", "selu"), (0.0,)),
    "hardsigmoid": (-3.0, 3.0),
    "hardswish": (-3.0, 3.0),
    "exp": (EXP_MAX,),
    "sinh": (-HYPERBOLIC_MAX, HYPERBOLIC_MAX),
    "cosh": (-HYPERBOLIC_MAX, HYPERBOLIC_MAX),
    "gauss": (-GAUSS_MAX, GAUSS_MAX),
}


# exp of a *computed* argument z: the rounding of z (relative ulp) becomes a relative error of
# ulp * |z| = ulp * |ln y| in the value and gradient, so tolerances scale with |ln y| there.
EXP_OF_COMPUTED = ("gauss", "gauss_diff", "abs_exp_diff")

# torch.sinc's backward, (pi t cos(pi t) - sin(pi t)) / (pi t^2), cancels near 0: finite, but off
# by up to ~3e-4 in fp32 and ~0.1 in bf16 for |x| < 1 (measured). Absolute floors for that, per dtype.
SINC_GRAD_ATOL = {torch.float32: 5e-4, torch.bfloat16: 0.15}

# Where fp32 and bf16 may legitimately take different guard branches: the guard compares with
# 1e-3, which bf16 rounds to 0.00099945.
BF16_GUARD_EDGES: dict[str, Callable[..., Array]] = {
    "div": lambda a, b: np.abs(np.abs(b) - DIV_EPS) <= 2.0**-7 * DIV_EPS,
}


def _amplification(op: str, y: Array) -> Array | float:
    if op not in EXP_OF_COMPUTED:
        return 1.0
    return np.maximum(1.0, np.abs(np.log(np.maximum(np.abs(y), 1e-300))))


def _near_kink_2d(op: str, a: Array, b: Array, h: Array) -> Array:
    d = np.abs(a - b)
    if op in ("max", "min", "abs_exp_diff"):
        return d <= 4 * h
    if op == "gauss_diff":
        return np.abs(d - GAUSS_MAX) <= 4 * h
    if op == "div":
        return (np.abs(np.abs(b) - DIV_EPS) <= 4 * h) | (np.abs(b) <= 4 * h)
    return np.zeros(a.shape, dtype=bool)


def _oracle(op: str, *args: Array) -> Array:
    """The float64 value the guarded operator should compute."""
    with np.errstate(all="ignore"):
        ref = np.asarray(OPERATORS[op].reference(*args), dtype=np.float64)
        if op not in GUARDS:
            return ref
        active, guarded = GUARDS[op]
        return np.where(active(*args), guarded(*args), ref)


# -- the cases: every tree operator, powi at every exponent, β operators at several β
def _cases(arity: int) -> list[Any]:
    cases = []
    for name, op in OPERATORS.items():
        if not op.in_tree or op.arity != arity:
            continue
        if name == "powi":
            cases += [pytest.param(name, n, None, id=f"powi{n}") for n in range(4, 9)]
        elif op.has_beta:
            cases += [pytest.param(name, None, b, id=f"{name}-beta{b:g}") for b in (op.beta_init, *BETAS)]
        else:
            cases.append(pytest.param(name, None, None, id=name))
    return cases


@functools.cache
def _binary_fn(op: str) -> Callable[..., torch.Tensor]:
    """The operator's torch template as a function of (a, b, beta), with its helpers."""
    body = OPERATORS[op].torch.format("a", "b", beta="beta")
    helpers = "\n".join(helpers_used(body, TORCH_HELPERS))
    namespace: dict[str, Any] = {"torch": torch, "math": math}
    exec(f"{helpers}\ndef f(a, b, beta=None):\n    return {body}\n", namespace)
    fn: Callable[..., torch.Tensor] = namespace["f"]
    return fn


def _run(op: str, n: float | None, beta: float | None, inputs: list[Array], dtype: torch.dtype):
    """Values and elementwise gradients (operands, then β) of ``op`` in ``dtype``."""
    xs = [torch.tensor(v).to(dtype).requires_grad_(True) for v in inputs]
    leaves = list(xs)
    kw: dict[str, torch.Tensor] = {}
    if beta is not None:
        kw["beta"] = torch.full_like(xs[0], beta).requires_grad_(True)
        leaves.append(kw["beta"])
    if len(xs) == 1:
        y = compile_function(call(op, X, exponent=n))(xs[0], **kw)
    else:
        y = _binary_fn(op)(*xs, **kw)
    grads = torch.autograd.grad(y.sum(), leaves, allow_unused=True)
    as_np = [np.zeros(xs[0].shape) if g is None else g.double().numpy() for g in grads]
    return y.detach().double().numpy(), as_np


def _oracle_args(op: str, n: float | None, beta: float | None, inputs: list[Array]) -> list[Any]:
    args: list[Any] = [v.astype(np.float64) for v in inputs]
    if beta is not None:
        args.append(np.full_like(args[0], beta))
    if n is not None:
        args.append(np.float64(n))
    return args


def _assert_close(
    actual: Array, expected: Array, rtol: Array | float, atol: Array | float, what: str
) -> None:
    err = np.abs(actual - expected)
    bad = ~(err <= rtol * np.abs(expected) + atol)
    assert not bad.any(), f"{what}: {bad.sum()} points, e.g. {actual[bad][:4]} vs {expected[bad][:4]}"


def _finite_differences(op: str, args: list[Array], k: int) -> tuple[Array, Array]:
    """Central differences of the oracle in float64 w.r.t. ``args[k]``, and the step used."""
    h = 1e-7 * np.maximum(1.0, np.abs(args[k]))
    up, down = list(args), list(args)
    up[k], down[k] = args[k] + h, args[k] - h
    return (_oracle(op, *up) - _oracle(op, *down)) / (2 * h), h


def _near_kink(op: str, inputs: list[Array], h: Array) -> Array:
    if len(inputs) == 2:
        return _near_kink_2d(op, inputs[0].astype(np.float64), inputs[1].astype(np.float64), h)
    x = inputs[0].astype(np.float64)
    near = np.zeros(x.shape, dtype=bool)
    for kink in KINKS_1D.get(op, ()):
        near |= np.abs(x - kink) <= 4 * h
    return near


def _check_fp32(op: str, n: float | None, beta: float | None, inputs: list[Array]) -> None:
    y, grads = _run(op, n, beta, inputs, torch.float32)
    assert np.isfinite(y).all(), f"{op}: non-finite values"
    for g in grads:
        assert np.isfinite(g).all(), f"{op}: non-finite gradients"

    args = _oracle_args(op, n, beta, inputs)
    # Values: a few fp32 ulps relative; the absolute floor covers results that are tiny next
    # to their inputs (sin near a multiple of pi, cancellation in beta_mix), where rounding
    # of an intermediate of size ~|input| is all the error there is.
    scale = np.maximum(1.0, np.max([np.abs(a) for a in args[: len(inputs)]], axis=0))
    expected = _oracle(op, *args)
    amp = _amplification(op, expected)
    _assert_close(y, expected, 2e-6 * amp, 2e-7 * scale, f"{op} value vs float64 oracle")

    # Gradients: the same compiled code in float64 is the oracle for the fp32 gradient
    # (including kinks, where both follow the documented convention) ...
    _, grads64 = _run(op, n, beta, [a.astype(np.float64) for a in inputs], torch.float64)
    gscale = scale * np.maximum(1.0, np.abs(grads64[0]))
    atol = np.maximum(1e-6 * gscale, SINC_GRAD_ATOL[torch.float32] * (op == "sinc") * (scale <= 1.0))
    for k, (g, g64) in enumerate(zip(grads, grads64, strict=True)):
        _assert_close(g, g64, 1e-5 * amp, atol, f"{op} gradient {k} vs float64 autograd")
    # ... and the float64 gradient is checked against finite differences of the oracle.
    for k, g64 in enumerate(grads64):
        fd, h = _finite_differences(op, args, k)
        smooth = ~_near_kink(op, inputs, h)
        _assert_close(
            g64[smooth],
            fd[smooth],
            1e-5,
            1e-6 * np.maximum(1.0, np.abs(fd[smooth]).max()),
            f"{op} float64 gradient {k} vs finite differences",
        )


def _check_bf16(op: str, n: float | None, beta: float | None, inputs: list[Array]) -> None:
    rounded = [torch.tensor(v).bfloat16().float().numpy() for v in inputs]
    y, grads = _run(op, n, beta, rounded, torch.bfloat16)
    assert np.isfinite(y).all(), f"{op}: non-finite bf16 values"
    for g in grads:
        assert np.isfinite(g).all(), f"{op}: non-finite bf16 gradients"
    # bf16 keeps 8 significant bits (relative rounding 2^-9), and every intermediate is rounded:
    # compare with fp32 on the same (bf16-representable) inputs to a few bf16 ulps, with an
    # absolute floor at the scale of the inputs for the same reason as in fp32.
    y32, g32 = _run(op, n, beta, rounded, torch.float32)
    keep = ~BF16_GUARD_EDGES[op](*rounded) if op in BF16_GUARD_EDGES else np.ones(y.shape, dtype=bool)
    scale = np.maximum(1.0, np.max([np.abs(v) for v in rounded], axis=0))[keep]
    rtol = 4 * 2.0**-8 * _amplification(op, y32[keep])
    _assert_close(y[keep], y32[keep], rtol, 2.0**-7 * scale, f"{op} bf16 value vs fp32")
    for k, (g, g_ref) in enumerate(zip(grads, g32, strict=True)):
        atol = 2.0**-7 * scale * np.maximum(1.0, np.abs(g_ref[keep]))
        if op == "sinc":
            atol = np.maximum(atol, SINC_GRAD_ATOL[torch.bfloat16])
        _assert_close(g[keep], g_ref[keep], rtol, atol, f"{op} bf16 gradient {k} vs fp32")


@pytest.mark.parametrize(("op", "n", "beta"), _cases(1))
def test_unary_fp32_matches_reference(op: str, n: float | None, beta: float | None) -> None:
    _check_fp32(op, n, beta, [GRID_1D])


@pytest.mark.parametrize(("op", "n", "beta"), _cases(1))
def test_unary_bf16_is_finite_and_close(op: str, n: float | None, beta: float | None) -> None:
    _check_bf16(op, n, beta, [GRID_1D])


@pytest.mark.parametrize(("op", "n", "beta"), _cases(2))
def test_binary_fp32_matches_reference(op: str, n: float | None, beta: float | None) -> None:
    _check_fp32(op, n, beta, list(GRID_2D))


@pytest.mark.parametrize(("op", "n", "beta"), _cases(2))
def test_binary_bf16_is_finite_and_close(op: str, n: float | None, beta: float | None) -> None:
    _check_bf16(op, n, beta, list(GRID_2D))


def test_every_guard_is_documented() -> None:
    for name in GUARDS:
        assert OPERATORS[name].guard, f"{name} changes values but documents no guard"
    # any clamp, epsilon or guarded helper in a template is a guard this test must know about
    for name, op in OPERATORS.items():
        if any(k in op.torch for k in ("clamp", "_safe_div", "1e-")):
            assert name in GUARDS and op.guard, f"{name}: undocumented guard in {op.torch!r}"


def test_beta_exponent_guard_keeps_beta_gradient_finite() -> None:
    # The worst case of the exponent clamp: just below it with the largest distance. At 80
    # (the plain exp clamp) the β-gradient -d * exp(80) overflowed fp32 for d = 2e4.
    for op, d, worst_beta in [
        ("abs_exp_diff", 2e4, -EXP_BETA_MAX / 2e4),
        ("gauss_diff", 100.0, -EXP_BETA_MAX / 1e4),
    ]:
        _, grads = _run(
            op,
            None,
            worst_beta * (1 - 1e-6),
            [np.array([d / 2], np.float32), np.array([-d / 2], np.float32)],
            torch.float32,
        )
        assert all(np.isfinite(g).all() for g in grads), op


_SELU_SCALE = mpmath.mpf("1.0507009873554804934193349852946")
_SELU_ALPHA = mpmath.mpf("1.6732632423543772848170429916717")


@pytest.mark.parametrize(
    ("op", "mp"),
    [
        ("erf", mpmath.erf),
        ("gelu", lambda v: v * (1 + mpmath.erf(v / mpmath.sqrt(2))) / 2),
        ("softplus", lambda v: mpmath.log1p(mpmath.exp(v))),
        ("sigmoid", lambda v: 1 / (1 + mpmath.exp(-v))),
        ("sinc", lambda v: mpmath.sin(v) / v if v != 0 else mpmath.mpf(1)),
        ("selu", lambda v: _SELU_SCALE * (v if v > 0 else _SELU_ALPHA * mpmath.expm1(v))),
    ],
)
def test_reference_oracles_agree_with_mpmath(op: str, mp: Callable[[Any], Any]) -> None:
    # The float64 references are themselves checked at 30 digits on the fp32 grid.
    points = GRID_1D.astype(np.float64)
    ref = np.asarray(OPERATORS[op].reference(points), dtype=np.float64)
    with mpmath.workdps(30):
        exact = np.array([float(mp(mpmath.mpf(float(v)))) for v in points])
    # float64 formulas round intermediates of size ~|x|: 1 + erf(-7) cancels to 0, sinc(1e4)
    # divides by a rounded x/pi. That floor is far below any fp32 tolerance.
    _assert_close(ref, exact, 1e-12, 1e-15 * np.maximum(1.0, np.abs(points)), f"{op} reference vs mpmath")


def test_kink_gradient_convention() -> None:
    # space._torch documents one convention: relu, min0 and |x| have derivative 0 at 0;
    # max/min split a tie equally between the operands.
    zero = torch.zeros(1, requires_grad=True)
    for op in ("relu", "min0", "abs"):
        (g,) = torch.autograd.grad(compile_function(call(op, X))(zero).sum(), zero)
        assert g.item() == 0.0, op
    for op in ("max", "min"):
        a, b = (torch.full((1,), 2.0, requires_grad=True) for _ in range(2))
        ga, gb = torch.autograd.grad(_binary_fn(op)(a, b).sum(), (a, b))
        assert ga.item() == gb.item() == 0.5, op


def test_every_tree_operator_has_c_and_cuda_forms() -> None:
    # ``x`` and ``beta`` have none, and need none: expression trees fold them into leaves. Each
    # helper a C form calls is defined by the runtime of both targets or by the operator itself.
    runtime_c = runtime_text("c/actsearch_runtime.h")
    runtime_cuda = runtime_text("c/actsearch_runtime_cuda.inc")
    for name, op in OPERATORS.items():
        if not op.in_tree:
            assert name in ("x", "beta"), f"{name} is kept out of trees: say why here"
            continue
        assert op.c is not None, f"{name} has no C form: its populations would lose the fused kernels"
        case = call(name, X, exponent=5) if name == "powi" else call(
            name, *([X] if op.arity == 1 else [X, call("tanh", X)]), param="beta" if op.has_beta else None)
        tape = Tape(case)
        code = "\n".join([*tape.forward_lines(), *tape.backward_lines()])
        own = {h.name for h in op.c.helpers}
        for called in set(re.findall(r"\b(as_\w+)\(", code + "".join(h.body for h in op.c.helpers))):
            assert called in own or f"float {called}(" in runtime_c, f"{name}: {called} missing in C"
            assert called in own or f"auto {called} = " in runtime_cuda, f"{name}: {called} missing in CUDA"


def test_the_c_runtime_ships_with_the_package() -> None:
    # read through importlib.resources, as an installed package (a wheel) is; package data in
    # pyproject.toml must name every file of space/c/ or a wheel would lack it
    folder = resources.files("space").joinpath("c")
    names = sorted(entry.name for entry in folder.iterdir() if entry.is_file())
    assert {"actsearch_runtime.h", "actsearch_dispatch.h", "actsearch_runtime_cuda.inc"} <= set(names)
    source = population_source([parse("x * sigmoid(beta * x)")], channels_last=True)
    assert runtime_text("c/actsearch_runtime.h") in source and runtime_text("c/actsearch_dispatch.h") in source
    assert runtime_text("c/actsearch_runtime_cuda.inc").rstrip() in population_cuda_source([parse("sin(x)")], 0)
    pyproject = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    patterns = pyproject["tool"]["setuptools"]["package-data"]["space"]
    for name in names:
        assert any(fnmatch.fnmatch(f"c/{name}", p) for p in patterns), f"space/c/{name} is not package data"
