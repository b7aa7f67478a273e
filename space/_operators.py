"""The operator registry: every operator of the search space, declared once.

Each operator carries everything the rest of actsearch needs to know about it:

* ``sympy`` – its exact mathematical form, used only for identity and display;
* ``reference`` – the same mathematics in float64 NumPy (unguarded), the oracle for
  fingerprints, properties and tests;
* ``torch`` / ``numpy`` – source templates of the numerically *guarded* implementation that is
  actually computed (and exported). ``{0}``/``{1}`` are the operands, ``{beta}`` the operator's
  trainable parameter, ``{xp}`` the array module (``np`` or ``jnp``);
* ``latex`` – a LaTeX template; ``cost`` – a complexity cost; ``has_beta`` – whether the
  operator carries a trainable per-channel parameter β, initialised to ``beta_init``.

"Safe" means: for finite fp32/bf16 inputs in [-1e4, 1e4] neither values nor gradients are NaN or
infinite. Each guard is documented in ``guard``. The guards never enter identity: the canonical
form and the fingerprint describe the mathematical function, the guarded code is what runs.

The unary ``x`` (identity) and ``beta`` (the constant β) exist for the vocabulary of spaces
(core units, token sequences); expression trees fold them away (``x(u)`` is ``u``, ``beta(u)``
is a parameter leaf).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.special
import sympy

# Guard constants. They are part of every generated source file, so changing one changes the
# identity of the computed code (not of the mathematical function).
EXP_MAX = 80.0  # exp(80) ~ 5.5e34 < 3.4e38, the largest fp32/bf16 value: values and grads stay finite
HYPERBOLIC_MAX = 80.0  # sinh/cosh grow like exp/2: the same bound
DIV_EPS = 1e-3  # |denominator| is pushed to >= 1e-3, so |x1/x2| <= 1e7 and |d/dx2| <= 1e10 at |x1|=1e4
LOG_EPS = 1e-6  # log(|x| + 1e-6): finite at 0, derivative bounded by 1e6
SQRT_EPS = 1e-12  # sqrt(max(|x|, 1e-12)): derivative bounded by 5e5 (1/(2 sqrt|x|) is inf at 0)
GAUSS_MAX = 100.0  # exp(-x^2) with |x| clamped to 100: x^2 never overflows, the value is 0 anyway
# exp(-beta d) for a distance d of the operands (beta may turn negative): the beta-gradient is
# -d exp(.), with d up to 2e4 (|x1 - x2|) or 1e4 (the clamped (x1 - x2)^2). exp(80) * 2e4 overflows
# fp32; exp(70) * 2e4 ~ 5e34 does not.
EXP_BETA_MAX = 70.0
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


@dataclass(frozen=True)
class Operator:
    """One operator of the search space. See the module docstring for the fields."""

    name: str
    arity: int
    sympy: Callable[..., Any]
    reference: Callable[..., np.ndarray]
    torch: str
    numpy: str
    latex: str
    cost: float
    has_beta: bool = False
    beta_init: float = 1.0
    guard: str = ""
    # Whether the operator may appear as a node of an expression tree (``x`` and ``beta`` are
    # folded into leaves).
    in_tree: bool = True
    # Whether spaces may use it as a search operator (``powi`` needs an exponent, so it only
    # appears in parsed expressions).
    searchable: bool = True
    description: str = ""


def _sigmoid_np(u: np.ndarray) -> np.ndarray:
    return np.asarray(scipy.special.expit(u))


def _softplus_np(u: np.ndarray) -> np.ndarray:
    return np.logaddexp(0.0, u)


def _gelu_np(u: np.ndarray) -> np.ndarray:
    return 0.5 * u * (1.0 + scipy.special.erf(u / np.sqrt(2.0)))


def _elu_np(u: np.ndarray) -> np.ndarray:
    return np.where(u > 0, u, np.expm1(np.minimum(u, 0.0)))


def _sym_sigmoid(u: Any) -> Any:
    return 1 / (1 + sympy.exp(-u))


def _sym_elu(u: Any) -> Any:
    return sympy.Piecewise((u, u > 0), (sympy.exp(u) - 1, True))


def _u(
    name: str,
    sym: Callable[..., Any],
    ref: Callable[..., np.ndarray],
    torch: str,
    numpy: str,
    latex: str,
    cost: float,
    **kw: Any,
) -> Operator:
    return Operator(name, 1, sym, ref, torch, numpy, latex, cost, **kw)


def _b(
    name: str,
    sym: Callable[..., Any],
    ref: Callable[..., np.ndarray],
    torch: str,
    numpy: str,
    latex: str,
    cost: float,
    **kw: Any,
) -> Operator:
    return Operator(name, 2, sym, ref, torch, numpy, latex, cost, **kw)


_UNARY = [
    _u("x", lambda u: u, lambda u: u, "{0}", "{0}", "{0}", 0, in_tree=False,
       description="identity"),
    _u("neg", lambda u: -u, lambda u: -u, "-{0}", "-{0}", "-{0}", 1),
    _u("abs", sympy.Abs, np.abs, "torch.abs({0})", "{xp}.abs({0})",
       "\\left|{0}\\right|", 1),
    _u("square", lambda u: u**2, np.square, "torch.square({0})", "{xp}.square({0})",
       "\\left({0}\\right)^{{2}}", 1),
    _u("cube", lambda u: u**3, lambda u: u**3, "{0} ** 3", "{0} ** 3",
       "\\left({0}\\right)^{{3}}", 1),
    _u("sqrt", lambda u: sympy.sqrt(sympy.Abs(u)), lambda u: np.sqrt(np.abs(u)),
       f"torch.sqrt(torch.clamp(torch.abs({{0}}), min={SQRT_EPS!r}))",
       f"{{xp}}.sqrt({{xp}}.maximum({{xp}}.abs({{0}}), {SQRT_EPS!r}))",
       "\\sqrt{{\\left|{0}\\right|}}", 2,
       guard="sqrt of |x| clamped below at 1e-12: the derivative 1/(2 sqrt|x|) stays <= 5e5",
       description="square root of |x|"),
    _u("beta_mul", lambda u, b: b * u, lambda u, b: b * u, "{beta} * {0}", "{beta} * {0}",
       "\\beta {0}", 1, has_beta=True, beta_init=1.0, description="beta * x"),
    _u("beta_add", lambda u, b: u + b, lambda u, b: u + b, "{0} + {beta}", "{0} + {beta}",
       "{0} + \\beta", 1, has_beta=True, beta_init=0.0,
       description="x + beta (beta starts at 0, so the operator starts as the identity)"),
    _u("log_abs", lambda u: sympy.log(sympy.Abs(u)), lambda u: np.log(np.abs(u)),
       f"torch.log(torch.abs({{0}}) + {LOG_EPS!r})",
       f"{{xp}}.log({{xp}}.abs({{0}}) + {LOG_EPS!r})",
       "\\log\\left|{0}\\right|", 2,
       guard="log(|x| + 1e-6): finite at 0, derivative <= 1e6", description="log(|x| + eps)"),
    _u("exp", sympy.exp, np.exp,
       f"torch.exp(torch.clamp({{0}}, max={EXP_MAX!r}))",
       f"{{xp}}.exp({{xp}}.minimum({{0}}, {EXP_MAX!r}))",
       "e^{{{0}}}", 2, guard="argument clamped above at 80: exp(80) ~ 5.5e34 is finite in fp32"),
    _u("sin", sympy.sin, np.sin, "torch.sin({0})", "{xp}.sin({0})",
       "\\sin\\left({0}\\right)", 2),
    _u("cos", sympy.cos, np.cos, "torch.cos({0})", "{xp}.cos({0})",
       "\\cos\\left({0}\\right)", 2),
    _u("sinh", sympy.sinh, np.sinh,
       f"torch.sinh(torch.clamp({{0}}, -{HYPERBOLIC_MAX!r}, {HYPERBOLIC_MAX!r}))",
       f"{{xp}}.sinh({{xp}}.clip({{0}}, -{HYPERBOLIC_MAX!r}, {HYPERBOLIC_MAX!r}))",
       "\\sinh\\left({0}\\right)", 2, guard="argument clamped to [-80, 80]"),
    _u("cosh", sympy.cosh, np.cosh,
       f"torch.cosh(torch.clamp({{0}}, -{HYPERBOLIC_MAX!r}, {HYPERBOLIC_MAX!r}))",
       f"{{xp}}.cosh({{xp}}.clip({{0}}, -{HYPERBOLIC_MAX!r}, {HYPERBOLIC_MAX!r}))",
       "\\cosh\\left({0}\\right)", 2, guard="argument clamped to [-80, 80]"),
    _u("tanh", sympy.tanh, np.tanh, "torch.tanh({0})", "{xp}.tanh({0})",
       "\\tanh\\left({0}\\right)", 2),
    _u("asinh", sympy.asinh, np.arcsinh, "torch.asinh({0})", "{xp}.arcsinh({0})",
       "\\operatorname{{asinh}}\\left({0}\\right)", 2),
    _u("atan", sympy.atan, np.arctan, "torch.atan({0})", "{xp}.arctan({0})",
       "\\arctan\\left({0}\\right)", 2),
    _u("sinc", sympy.sinc, lambda u: np.sinc(u / np.pi),
       "_sinc({0})", "{xp}.sinc({0} / math.pi)",
       "\\operatorname{{sinc}}\\left({0}\\right)", 2,
       guard="|x| < 0.5 uses the Taylor series to x^8 (error < 3e-11): sin(x)/x and its "
       "derivative cos(x)/x - sin(x)/x^2 cancel badly near 0 (torch.sinc's own backward is "
       "off by 3e-4 in fp32 there); the other branch sees x = 1 there, so no 0/0 gradient", description="sin(x)/x, 1 at 0"),
    _u("relu", lambda u: sympy.Max(u, 0), lambda u: np.maximum(u, 0.0),
       "torch.relu({0})", "{xp}.maximum({0}, 0.0)",
       "\\max\\left({0}, 0\\right)", 1, description="max(x, 0)"),
    _u("min0", lambda u: sympy.Min(u, 0), lambda u: np.minimum(u, 0.0),
       "-torch.relu(-({0}))", "{xp}.minimum({0}, 0.0)",
       "\\min\\left({0}, 0\\right)", 1,
       description="min(x, 0); computed as -relu(-x) so its derivative at 0 is 0 like relu's"),
    _u("sigmoid", _sym_sigmoid, _sigmoid_np, "torch.sigmoid({0})", "_sigmoid({0})",
       "\\sigma\\left({0}\\right)", 2),
    _u("softplus", lambda u: sympy.log(1 + sympy.exp(u)), _softplus_np,
       "torch.nn.functional.softplus({0})", "{xp}.logaddexp(0.0, {0})",
       "\\operatorname{{softplus}}\\left({0}\\right)", 2,
       guard="computed as a stable softplus / logaddexp, never log(1 + exp(x))",
       description="log(1 + exp(x))"),
    _u("gauss", lambda u: sympy.exp(-(u**2)), lambda u: np.exp(-np.square(u)),
       f"torch.exp(-torch.square(torch.clamp({{0}}, -{GAUSS_MAX!r}, {GAUSS_MAX!r})))",
       f"{{xp}}.exp(-{{xp}}.square({{xp}}.clip({{0}}, -{GAUSS_MAX!r}, {GAUSS_MAX!r})))",
       "e^{{-\\left({0}\\right)^{{2}}}}", 2,
       guard="argument clamped to [-100, 100]: x^2 cannot overflow (whose gradient would be "
       "inf * 0 = NaN)", description="exp(-x^2)"),
    _u("erf", sympy.erf, scipy.special.erf, "torch.erf({0})", "_erf({0})",
       "\\operatorname{{erf}}\\left({0}\\right)", 2),
    _u("beta", lambda u, b: b, lambda u, b: np.broadcast_to(b, np.shape(u)), "{beta}",
       "{beta}", "\\beta", 1, has_beta=True, beta_init=1.0, in_tree=False,
       description="the constant beta"),
    _u("gelu", lambda u: u * (1 + sympy.erf(u / sympy.sqrt(2))) / 2, _gelu_np,
       "torch.nn.functional.gelu({0})", "_gelu({0})",
       "\\operatorname{{GELU}}\\left({0}\\right)", 3, description="x * Phi(x), exact form"),
    _u("softsign", lambda u: u / (1 + sympy.Abs(u)), lambda u: u / (1 + np.abs(u)),
       "torch.nn.functional.softsign({0})", "{0} / (1.0 + {xp}.abs({0}))",
       "\\operatorname{{softsign}}\\left({0}\\right)", 2),
    _u("elu", _sym_elu, _elu_np, "torch.nn.functional.elu({0})",
       "_elu({0})", "\\operatorname{{ELU}}\\left({0}\\right)", 3,
       guard="torch's elu evaluates expm1 only where it is selected"),
    _u("selu", lambda u: SELU_SCALE * sympy.Piecewise((u, u > 0), (SELU_ALPHA * (sympy.exp(u) - 1), True)),
       lambda u: SELU_SCALE * np.where(u > 0, u, SELU_ALPHA * np.expm1(np.minimum(u, 0.0))),
       "torch.nn.functional.selu({0})", f"{SELU_SCALE!r} * _elu({{0}}, {SELU_ALPHA!r})",
       "\\operatorname{{SELU}}\\left({0}\\right)", 3),
    _u("powi", lambda u, n: u**n, lambda u, n: u**n, "{0} ** {n}", "{0} ** {n}",
       "\\left({0}\\right)^{{{n}}}", 2, searchable=False,
       description="integer power x^n, 4 <= n <= MAX_EXPONENT (x^2, x^3 are square, cube)"),
    _u("hardsigmoid", lambda u: sympy.Min(sympy.Max(u / 6 + sympy.Rational(1, 2), 0), 1),
       lambda u: np.clip(u / 6.0 + 0.5, 0.0, 1.0), "torch.nn.functional.hardsigmoid({0})",
       "{xp}.clip({0} / 6.0 + 0.5, 0.0, 1.0)",
       "\\operatorname{{hardsigmoid}}\\left({0}\\right)", 2),
    _u("hardswish", lambda u: u * sympy.Min(sympy.Max(u + 3, 0), 6) / 6,
       lambda u: u * np.clip(u + 3.0, 0.0, 6.0) / 6.0, "torch.nn.functional.hardswish({0})",
       "{0} * {xp}.clip({0} + 3.0, 0.0, 6.0) / 6.0",
       "\\operatorname{{hardswish}}\\left({0}\\right)", 2),
]

_BINARY = [
    _b("add", lambda a, b: a + b, lambda a, b: a + b, "{0} + {1}", "{0} + {1}",
       "{0} + {1}", 1),
    _b("sub", lambda a, b: a - b, lambda a, b: a - b, "{0} - {1}", "{0} - {1}",
       "{0} - {1}", 1),
    _b("mul", lambda a, b: a * b, lambda a, b: a * b, "{0} * {1}", "{0} * {1}",
       "{0} {1}", 1),
    _b("div", lambda a, b: a / b, lambda a, b: a / b, "_safe_div({0}, {1})", "_safe_div({0}, {1})",
       "\\frac{{{0}}}{{{1}}}", 2,
       guard="a denominator with |x2| < 1e-3 is replaced by +-1e-3 (sign kept, 0 -> +): the "
       "value and both derivatives stay finite; the replaced branch has zero gradient",
       description="x1 / x2, guarded"),
    _b("max", sympy.Max, np.maximum, "_maximum({0}, {1})", "{xp}.maximum({0}, {1})",
       "\\max\\left({0}, {1}\\right)", 1),
    _b("min", sympy.Min, np.minimum, "_minimum({0}, {1})", "{xp}.minimum({0}, {1})",
       "\\min\\left({0}, {1}\\right)", 1),
    _b("sigmoid_mul", lambda a, b: _sym_sigmoid(a) * b, lambda a, b: _sigmoid_np(a) * b,
       "torch.sigmoid({0}) * {1}", "_sigmoid({0}) * {1}",
       "\\sigma\\left({0}\\right) {1}", 2, description="sigmoid(x1) * x2"),
    _b("gauss_diff", lambda a, b, beta: sympy.exp(-beta * (a - b) ** 2),
       lambda a, b, beta: np.exp(-beta * np.square(a - b)),
       f"torch.exp(torch.clamp(-{{beta}} * torch.square(torch.clamp({{0}} - {{1}}, "
       f"-{GAUSS_MAX!r}, {GAUSS_MAX!r})), max={EXP_BETA_MAX!r}))",
       f"{{xp}}.exp({{xp}}.minimum(-{{beta}} * {{xp}}.square({{xp}}.clip({{0}} - {{1}}, "
       f"-{GAUSS_MAX!r}, {GAUSS_MAX!r})), {EXP_BETA_MAX!r}))",
       "e^{{-\\beta \\left({0} - {1}\\right)^{{2}}}}", 3, has_beta=True, beta_init=1.0,
       guard="difference clamped to [-100, 100] and exponent clamped above at 70 (beta may "
       "turn negative during training; at 80 the beta-gradient -(x1 - x2)^2 exp(.) overflows)",
       description="exp(-beta (x1 - x2)^2)"),
    _b("abs_exp_diff", lambda a, b, beta: sympy.exp(-beta * sympy.Abs(a - b)),
       lambda a, b, beta: np.exp(-beta * np.abs(a - b)),
       f"torch.exp(torch.clamp(-{{beta}} * torch.abs({{0}} - {{1}}), max={EXP_BETA_MAX!r}))",
       f"{{xp}}.exp({{xp}}.minimum(-{{beta}} * {{xp}}.abs({{0}} - {{1}}), {EXP_BETA_MAX!r}))",
       "e^{{-\\beta \\left|{0} - {1}\\right|}}", 3, has_beta=True, beta_init=1.0,
       guard="exponent clamped above at 70 (beta may turn negative during training; at 80 the "
       "beta-gradient -|x1 - x2| exp(.) overflows for |x1 - x2| = 2e4)",
       description="exp(-beta |x1 - x2|)"),
    _b("beta_mix", lambda a, b, beta: beta * a + (1 - beta) * b,
       lambda a, b, beta: beta * a + (1 - beta) * b,
       "{beta} * {0} + (1.0 - {beta}) * {1}", "{beta} * {0} + (1.0 - {beta}) * {1}",
       "\\beta {0} + \\left(1 - \\beta\\right) {1}", 2, has_beta=True, beta_init=0.5,
       description="beta x1 + (1 - beta) x2, beta starts at 0.5"),
]

OPERATORS: dict[str, Operator] = {op.name: op for op in _UNARY + _BINARY}
UNARY: tuple[str, ...] = tuple(op.name for op in _UNARY)
BINARY: tuple[str, ...] = tuple(op.name for op in _BINARY)

# The operator sets of "Searching for Activation Functions" (Ramachandran, Zoph, Le 2017).
SWISH_PAPER_UNARY: tuple[str, ...] = (
    "x", "neg", "abs", "square", "cube", "sqrt", "beta_mul", "beta_add", "log_abs", "exp",
    "sin", "cos", "sinh", "cosh", "tanh", "asinh", "atan", "sinc", "relu", "min0", "sigmoid",
    "softplus", "gauss", "erf", "beta",
)
SWISH_PAPER_BINARY: tuple[str, ...] = (
    "add", "mul", "sub", "div", "max", "min", "sigmoid_mul", "gauss_diff", "abs_exp_diff",
    "beta_mix",
)

# Source of the helpers the templates call, per target. ``{xp}`` is the array module.
TORCH_HELPERS: dict[str, str] = {
    "_safe_div": (
        "def _safe_div(a, b):\n"
        f"    # |b| < {DIV_EPS!r} is replaced by +-{DIV_EPS!r} (0 -> +): finite value and gradients\n"
        "    if not isinstance(b, torch.Tensor):\n"
        "        # a constant denominator (x / 6): guarded in Python, so it keeps full precision\n"
        f"        return a / (b if abs(b) >= {DIV_EPS!r} else (-{DIV_EPS!r} if b < 0 else {DIV_EPS!r}))\n"
        f"    small = torch.abs(b) < {DIV_EPS!r}\n"
        f"    eps = torch.where(b < 0, torch.full_like(b, -{DIV_EPS!r}), torch.full_like(b, {DIV_EPS!r}))\n"
        "    return a / torch.where(small, eps, b)\n"
    ),
    "_sinc": (
        "def _sinc(u):\n"
        "    small = torch.abs(u) < 0.5\n"
        "    safe = torch.where(small, torch.ones_like(u), u)\n"
        "    u2 = torch.square(torch.where(small, u, torch.zeros_like(u)))\n"
        "    series = 1 - u2 / 6 * (1 - u2 / 20 * (1 - u2 / 42 * (1 - u2 / 72)))\n"
        "    return torch.where(small, series, torch.sin(safe) / safe)\n"
    ),
    # torch.maximum/minimum take tensors only; a constant operand (min(u, 6)) becomes a 0-d
    # tensor of the other operand's dtype. Tied operands share the gradient equally.
    "_maximum": (
        "def _maximum(a, b):\n"
        "    a = a if isinstance(a, torch.Tensor) else b.new_tensor(a)\n"
        "    return torch.maximum(a, b if isinstance(b, torch.Tensor) else a.new_tensor(b))\n"
    ),
    "_minimum": (
        "def _minimum(a, b):\n"
        "    a = a if isinstance(a, torch.Tensor) else b.new_tensor(a)\n"
        "    return torch.minimum(a, b if isinstance(b, torch.Tensor) else a.new_tensor(b))\n"
    ),
}


def get_operator(name: str) -> Operator:
    """Returns the operator called ``name``; a ``KeyError`` names the known ones."""
    try:
        return OPERATORS[name]
    except KeyError:
        raise KeyError(f"unknown operator {name!r}; known: {', '.join(OPERATORS)}") from None
