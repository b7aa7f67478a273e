"""The torch compiler against torch's built-in activations, and the compiled module's contract.

Formula forms people write (``x*sigmoid(x)``, the GELU formulas, ``max(x,0)+min(0,exp(x)-1)``…)
are compiled through the parser and compared with the built-in kernels, values and gradients,
in fp32 and bf16, on a grid with kinks, the fp32 exp edges and |x| up to 1e4; both on the
default eager path and on the opt-in fused path (``space._fuse``).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from space import compile_function, compile_module, parse, torch_source
from space._operators import SELU_ALPHA, SELU_SCALE

Fn = Callable[[torch.Tensor], torch.Tensor]

GELU_ERF = "0.5*x*(1+erf(x/sqrt(2)))"
GELU_TANH = "0.5*x*(1+tanh(sqrt(2/pi)*(x+0.044715*x^3)))"
ELU_FORMULA = "max(x,0)+min(0, exp(x)-1)"
SELU_FORMULA = f"{SELU_SCALE!r}*(max(x,0)+min(0,{SELU_ALPHA!r}*(exp(x)-1)))"
HARDSWISH_FORMULA = "x*min(max(x+3,0),6)/6"
HARDSIGMOID_FORMULA = "min(max(x+3,0),6)/6"

FORMS: list[tuple[str, Fn]] = [
    ("max(x,0)", F.relu),
    ("x*sigmoid(x)", F.silu),
    ("x/(1+exp(-x))", F.silu),
    (GELU_ERF, F.gelu),
    ("gelu(x)", F.gelu),
    (GELU_TANH, lambda x: F.gelu(x, approximate="tanh")),
    ("x*tanh(softplus(x))", F.mish),
    ("x*tanh(log(1+exp(x)))", F.mish),
    ("log(1+exp(x))", F.softplus),
    ("softplus(x)", F.softplus),
    (ELU_FORMULA, F.elu),
    ("elu(x)", F.elu),
    ("selu(x)", F.selu),
    (SELU_FORMULA, F.selu),
    ("tanh(x)", torch.tanh),
    ("1/(1+exp(-x))", torch.sigmoid),
    ("sigmoid(x)", torch.sigmoid),
    (HARDSWISH_FORMULA, F.hardswish),
    ("hardswish(x)", F.hardswish),
    ("hardsigmoid(x)", F.hardsigmoid),
    (HARDSIGMOID_FORMULA, F.hardsigmoid),
]


def _exp_rounds_to_one(x: np.ndarray, dtype: torch.dtype) -> np.ndarray:
    """x <= 0 where exp(x) - 1 is exactly 0 in ``dtype``: the kink of min0 in the ELU formulas.

    That is x = 0 in exact arithmetic, but every x in (-2^-9, 0] in bf16 (about (-3e-8, 0] in
    fp32), because exp(x) rounds to 1 there.
    """
    return (x <= 0) & (torch.exp(torch.tensor(x).to(dtype)) == 1).numpy()


# Where a formula's gradient follows our documented convention (space._torch: relu and min0 have
# derivative 0 at 0; max/min split a tie equally) and torch's built-in has its own:
# (where, ours, built-in). Everywhere else, including x = -3 for the hard* forms, they agree.
KINK_GRADIENTS: dict[str, tuple[Callable[[np.ndarray, torch.dtype], np.ndarray], float, float]] = {
    # relu'(0) = 0 and min0'(exp(x) - 1 = 0) = 0; F.elu takes its exp(x) branch for x <= 0
    ELU_FORMULA: (_exp_rounds_to_one, 0.0, 1.0),
    SELU_FORMULA: (_exp_rounds_to_one, 0.0, SELU_SCALE * SELU_ALPHA),
    # min(relu(6), 6) is a tie: d = 6/6 + 3 * (1/2) / 6; F.hardswish's slope is 1 from x = 3 on
    HARDSWISH_FORMULA: (lambda x, dtype: x == 3.0, 1.25, 1.0),
    # the same tie gives (1/2) / 6; F.hardsigmoid's slope is 1/6 only on the open (-3, 3)
    HARDSIGMOID_FORMULA: (lambda x, dtype: x == 3.0, 1.0 / 12.0, 0.0),
}

# Tolerances. fp32: 1e-6 relative, with an absolute floor of 4 ulps of max(1, |x|): every form
# rounds intermediates of size |x| or 1 (0.5*x, x + 3, 1 + erf(.), exp(x) - 1), so near a zero
# of the function (gelu's left tail, elu's formula at -1e-7) the cancellation leaves a few ulps
# of that size and nothing more. bf16: 8 bits, and each intermediate is rounded: 4 ulps
# relative (2^-6) with a floor of 2 ulps of max(1, |x|).
TOLERANCES = {torch.float32: (1e-6, 4 * 2.0**-23), torch.bfloat16: (2.0**-6, 2 * 2.0**-8)}


def _grid() -> np.ndarray:
    special = [0.0, 1e-7, 1e-3, 0.5, 1.0, 3.0, 80.0, 88.0, 100.0, 1e3, 1e4]
    rng = np.random.default_rng(3)
    logs = rng.choice([-1.0, 1.0], 100) * 10.0 ** rng.uniform(-4, 4, 100)
    signed = sorted({s * v for v in special for s in (1.0, -1.0)})
    return np.concatenate([signed, np.linspace(-10, 10, 401), logs]).astype(np.float32)


GRID = _grid()


def _value_and_grad(fn: Fn, x: np.ndarray, dtype: torch.dtype) -> tuple[np.ndarray, np.ndarray]:
    t = torch.tensor(x).to(dtype).requires_grad_(True)
    y = fn(t)
    assert y.dtype == dtype and y.shape == t.shape
    (g,) = torch.autograd.grad(y.sum(), t)
    return y.detach().double().numpy(), g.double().numpy()


def _assert_close(ours: np.ndarray, theirs: np.ndarray, x: np.ndarray, dtype: torch.dtype, what: str) -> None:
    rtol, ulps = TOLERANCES[dtype]
    bad = ~(np.abs(ours - theirs) <= rtol * np.abs(theirs) + ulps * np.maximum(1.0, np.abs(x)))
    assert not bad.any(), f"{what} at x={x[bad][:5]}: {ours[bad][:5]} vs built-in {theirs[bad][:5]}"


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=["fp32", "bf16"])
@pytest.mark.parametrize("fused", [False, True], ids=["eager", "fused"])
@pytest.mark.parametrize(("text", "builtin"), FORMS, ids=[t for t, _ in FORMS])
def test_formula_matches_builtin(text: str, builtin: Fn, fused: bool, dtype: torch.dtype) -> None:
    ours = compile_function(parse(text), fused=fused)
    x = torch.tensor(GRID).to(dtype).double().numpy()  # the points each dtype can represent
    y, g = _value_and_grad(ours, GRID, dtype)
    y_ref, g_ref = _value_and_grad(builtin, GRID, dtype)
    assert np.isfinite(y).all() and np.isfinite(g).all()
    _assert_close(y, y_ref, x, dtype, f"{text} value")

    at_kink = np.zeros(x.shape, dtype=bool)
    if text in KINK_GRADIENTS:
        where, convention, torch_value = KINK_GRADIENTS[text]
        at_kink = where(x, dtype)
        assert at_kink.any()  # the grid does contain the kink
        k = at_kink
        _assert_close(g[k], np.full(k.sum(), convention), x[k], dtype, f"{text} convention at kink")
        _assert_close(g_ref[k], np.full(k.sum(), torch_value), x[k], dtype, f"{text} built-in at kink")
    _assert_close(g[~at_kink], g_ref[~at_kink], x[~at_kink], dtype, f"{text} gradient")


# -- the fused path: opt-in, same function, same gradients, only the emitted code differs
FUSED_KERNELS = {
    "x*sigmoid(x)": "silu(",
    "sigmoid(x)*x": "silu(",
    "sigmoid_mul(x, x)": "silu(",
    "2*x*sigmoid(x)*sin(x)": "silu(",
    "x/6*sigmoid(x) + x": "silu(",
    "sin(x)*sigmoid(sin(x))": "silu(torch.sin(x))",
    "x*sigmoid(x)/(1+x^2)": "silu(",
    "x*tanh(softplus(x))": "mish(",
    "x*tanh(softplus(x))*sigmoid(x)*x": "mish(",
    GELU_ERF: "gelu(x)",
    "x*(erf(x*0.7071067811865476)+1)/2": "gelu(x)",
    "x*(1+erf(x/sqrt(2)))": "2.0 * torch.nn.functional.gelu(x)",
    GELU_TANH: "approximate='tanh'",
}
NOT_FUSED = [
    "x*sigmoid(beta*x)",  # F.silu has no β
    "x*sigmoid(2*x)",
    "0.5*x*(1+erf(x/1.41))",  # a different constant is a different function
    "x/0.0001*sigmoid(x)",  # a guarded division is not a plain factor
    ELU_FORMULA,  # kinked: its convention at 0 differs from F.elu
    HARDSWISH_FORMULA,
]


@pytest.mark.parametrize("text", list(FUSED_KERNELS))
def test_fused_equals_eager(text: str) -> None:
    expr = parse(text)
    fused_source = torch_source(expr, fused=True)
    assert FUSED_KERNELS[text] in fused_source
    assert f'"""{expr}"""' in fused_source  # the text (and so the identity) is untouched
    for dtype in TOLERANCES:
        x = torch.tensor(GRID).to(dtype).double().numpy()
        y, g = _value_and_grad(compile_function(expr, fused=True), GRID, dtype)
        y_ref, g_ref = _value_and_grad(compile_function(expr), GRID, dtype)
        assert np.isfinite(y).all() and np.isfinite(g).all()
        _assert_close(y, y_ref, x, dtype, f"fused {text} value")
        _assert_close(g, g_ref, x, dtype, f"fused {text} gradient")


@pytest.mark.parametrize("text", NOT_FUSED)
def test_fusion_leaves_other_forms_alone(text: str) -> None:
    expr = parse(text)
    assert torch_source(expr, fused=True) == torch_source(expr)


def test_eager_is_the_default() -> None:
    expr = parse("x*sigmoid(x)")
    assert "silu" not in torch_source(expr)
    assert compile_function(expr) is not compile_function(expr, fused=True)


# -- the module: per-channel β, autocast, state dict, constants, explicit β
SWISH_BETA = "x*sigmoid(beta*x)"


@pytest.mark.parametrize(
    ("shape", "channel_dim"),
    [((5, 4), 1), ((5, 4, 7), 1), ((2, 4, 3, 3), 1), ((2, 7, 4), -1)],
    ids=["NC", "NCL", "NCHW", "NTC-last"],
)
def test_module_broadcasts_beta_per_channel(shape: tuple[int, ...], channel_dim: int) -> None:
    act = compile_module(parse(SWISH_BETA), num_channels=4, channel_dim=channel_dim)
    beta = dict(act.named_parameters())["beta"]
    assert beta.shape == (4,) and torch.all(beta == 1.0)
    with torch.no_grad():
        beta.copy_(torch.tensor([-1.0, 0.5, 2.0, 3.0]))
    x = torch.randn(shape, generator=torch.Generator().manual_seed(0))
    y = act(x)
    view = [-1 if d == channel_dim % len(shape) else 1 for d in range(len(shape))]
    b = beta.detach().reshape(view)
    torch.testing.assert_close(y, x * torch.sigmoid(b * x), rtol=1e-6, atol=1e-7)
    y.square().sum().backward()
    assert beta.grad is not None and beta.grad.shape == (4,) and torch.isfinite(beta.grad).all()
    assert (beta.grad != 0).all()


def test_module_without_channels_shares_one_beta() -> None:
    act = compile_module(parse(SWISH_BETA))
    (beta,) = act.parameters()
    assert beta.shape == (1,)
    x = torch.randn(3, 5, 2)
    torch.testing.assert_close(act(x), x * torch.sigmoid(x))
    act(x).sum().backward()
    assert beta.grad is not None and torch.isfinite(beta.grad).all()


def test_module_parameter_inits_follow_the_operator() -> None:
    act = compile_module(parse("beta_mix(x, sin(x)) + beta_add(x, beta1)"), num_channels=3)
    params = dict(act.named_parameters())
    assert torch.all(params["beta"] == 0.5) and torch.all(params["beta1"] == 0.0)


def test_module_under_bf16_autocast() -> None:
    torch.manual_seed(0)
    layer = torch.nn.Linear(8, 4)
    act = compile_module(parse(SWISH_BETA), num_channels=4)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = act(layer(torch.randn(16, 8)))
    assert y.dtype == torch.bfloat16 and torch.isfinite(y).all()
    y.float().sum().backward()
    beta = dict(act.named_parameters())["beta"]
    assert beta.grad is not None and beta.grad.dtype == torch.float32
    assert torch.isfinite(beta.grad).all() and layer.weight.grad is not None


def test_module_state_dict_round_trip() -> None:
    expr = parse("beta_mul(x, beta1) * sigmoid(beta2 * x)")
    first = compile_module(expr, num_channels=3)
    with torch.no_grad():
        for p in first.parameters():
            p.uniform_(-2.0, 2.0)
    second = compile_module(expr, num_channels=3)
    second.load_state_dict(first.state_dict())
    x = torch.randn(4, 3)
    torch.testing.assert_close(second(x), first(x), rtol=0, atol=0)
    assert set(first.state_dict()) == {"beta1", "beta2"}


@pytest.mark.parametrize(("text", "value"), [("beta", 1.0), ("2", 2.0), ("beta * 3 - 1", 2.0)])
def test_constant_function_returns_input_shape(text: str, value: float) -> None:
    act = compile_module(parse(text), num_channels=3)
    x = torch.randn(2, 3, 5, requires_grad=True)
    y = act(x)
    assert y.shape == x.shape and y.dtype == x.dtype
    torch.testing.assert_close(y, torch.full_like(x, value))
    params = list(act.parameters())
    if params:  # without parameters the output does not depend on anything trainable
        y.sum().backward()
        assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in params)


def test_function_accepts_explicit_beta_tensors() -> None:
    fn = compile_function(parse(SWISH_BETA))
    x = torch.linspace(-5, 5, 11)
    torch.testing.assert_close(fn(x), x * torch.sigmoid(x))  # β defaults to its init, 1
    beta = torch.tensor(2.0, requires_grad=True)
    torch.testing.assert_close(fn(x, beta=beta), x * torch.sigmoid(2 * x))
    fn(x, beta=beta).sum().backward()
    assert beta.grad is not None and torch.isfinite(beta.grad)
    per_element = torch.linspace(0.5, 1.5, 11)
    torch.testing.assert_close(fn(x, beta=per_element), x * torch.sigmoid(per_element * x))
    torch.testing.assert_close(fn(x, 3.0), x * torch.sigmoid(3 * x))  # a plain number too
