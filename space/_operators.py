"""The operator registry: every operator of the search space, declared once.

Each operator carries everything the rest of actsearch needs to know about it:

* ``sympy`` – its exact mathematical form, used only for identity and display;
* ``reference`` – the same mathematics in float64 NumPy (unguarded), the oracle for
  fingerprints, properties and tests;
* ``torch`` / ``numpy`` – source templates of the numerically *guarded* implementation that is
  actually computed (and exported). ``{0}``/``{1}`` are the operands, ``{beta}`` the operator's
  trainable parameter, ``{xp}`` the array module (``np`` or ``jnp``);
* ``latex`` – a LaTeX template; ``cost`` – a complexity cost; ``has_beta`` – whether the
  operator carries a trainable per-channel parameter β, initialised to ``beta_init``;
* ``c`` – its C form (``space._c_form.COp``: value and partial-derivative templates, and the
  helper functions they call), from which both the fused CPU kernels (``space._c_source``) and
  the CUDA kernel (``space._cuda_source``) are written. ``None`` (a plug-in's operator may
  leave it out): a population holding the operator runs its torch code instead, correct but
  without the fused kernels' speed. Every built-in tree operator has one (tested).

"Safe" means: for finite fp32/bf16 inputs in [-1e4, 1e4] neither values nor gradients are NaN or
infinite. Each guard is documented in ``guard``. The guards never enter identity: the canonical
form and the fingerprint describe the mathematical function, the guarded code is what runs.

The unary ``x`` (identity) and ``beta`` (the constant β) exist for the vocabulary of spaces
(core units, token sequences); expression trees fold them away (``x(u)`` is ``u``, ``beta(u)``
is a parameter leaf).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.special
import sympy

from space._c_form import CHelper, COp, c_power, c_unary
from space._c_form import c_float as _f

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
    c: COp | None = None


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


# Pieces of the C forms (``c=``): C templates compute the guarded function of the torch
# template, with PyTorch's derivative conventions (clamp passes the gradient on its closed
# interval; relu, |x| and sign have derivative 0 at 0; max/min split it between tied operands).
_C_SQ = f"as_clamp({{a}}, {_f(-GAUSS_MAX)}, {_f(GAUSS_MAX)})"
_C_HYP = f"as_clamp({{a}}, {_f(-HYPERBOLIC_MAX)}, {_f(HYPERBOLIC_MAX)})"
_C_SQRT_1_2 = _f(math.sqrt(0.5))
_C_TIE = CHelper("as_tie", "float a, float b", "return 0.5f * ((float)(a > b) + (float)(a >= b));",
                 doc="d max(a, b) / da: 1 where a wins, 1/2 at a tie (torch.maximum/minimum split it)")
_C_DEN = CHelper("as_den", "float b", f"""
    return fabsf(b) < {_f(DIV_EPS)} ? (b < 0.0f ? {_f(-DIV_EPS)} : {_f(DIV_EPS)}) : b;
""")
_C_SINC = (
    CHelper("as_sinc", "float u", """
        int small = fabsf(u) < 0.5f;
        float s = small ? 1.0f : u, u2 = small ? u * u : 0.0f;
        float series = 1.0f - u2 / 6.0f * (1.0f - u2 / 20.0f * (1.0f - u2 / 42.0f * (1.0f - u2 / 72.0f)));
        return as_select(small, series, sinf(s) / s);
        """, cuda_body="""
        float u2 = u * u;
        return fabsf(u) < 0.5f ? 1.0f - u2 / 6.0f * (1.0f - u2 / 20.0f * (1.0f - u2 / 42.0f * (1.0f - u2 / 72.0f)))
                               : sinf(u) / u;
        """, doc="sin(u)/u with its Taylor series to u^8 for |u| < 0.5, as the torch template's _sinc"),
    CHelper("as_dsinc", "float u", """
        int small = fabsf(u) < 0.5f;
        float s = small ? 1.0f : u, u2 = small ? u * u : 0.0f;
        float series = 2.0f * u * (-1.0f / 6.0f + u2 * (2.0f / 120.0f + u2 * (-3.0f / 5040.0f + u2 * (4.0f / 362880.0f))));
        return as_select(small, series, cosf(s) / s - sinf(s) / (s * s));
        """, cuda_body="""
        float u2 = u * u;
        return fabsf(u) < 0.5f
            ? 2.0f * u * (-1.0f / 6.0f + u2 * (2.0f / 120.0f + u2 * (-3.0f / 5040.0f + u2 * (4.0f / 362880.0f))))
            : cosf(u) / u - sinf(u) / (u * u);
        """),
)
# t: the clamped difference (d would shadow the CUDA function's output d); g: the value where the
# exponent's clamp passes the gradient, else 0
_C_T = f"float t = as_clamp(a - b, {_f(-GAUSS_MAX)}, {_f(GAUSS_MAX)});"
_C_G = f"float g = (-beta * (t * t) <= {_f(EXP_BETA_MAX)}) ? y : 0.0f;"
_C_GAUSS_DIFF = (
    CHelper("as_gauss_diff", "float a, float b, float beta",
            f"{_C_T}\nreturn as_exp(as_min(-beta * (t * t), {_f(EXP_BETA_MAX)}));"),
    CHelper("as_gauss_diff_da", "float a, float b, float beta, float y",
            f"{_C_T}\n{_C_G}\nreturn as_in(a - b, {_f(-GAUSS_MAX)}, {_f(GAUSS_MAX)}, g * -beta * 2.0f * t);"),
    CHelper("as_gauss_diff_dbeta", "float a, float b, float beta, float y", f"{_C_T}\n{_C_G}\nreturn -g * (t * t);"),
)
_C_G_ABS = f"float g = (-beta * fabsf(a - b) <= {_f(EXP_BETA_MAX)}) ? y : 0.0f;"
_C_ABS_EXP_DIFF = (
    CHelper("as_abs_exp_diff", "float a, float b, float beta",
            f"\nreturn as_exp(as_min(-beta * fabsf(a - b), {_f(EXP_BETA_MAX)}));"),
    CHelper("as_abs_exp_diff_da", "float a, float b, float beta, float y",
            f"{_C_G_ABS}\nreturn g * -beta * as_sign(a - b);"),
    CHelper("as_abs_exp_diff_dbeta", "float a, float b, float beta, float y", f"{_C_G_ABS}\nreturn -g * fabsf(a - b);"),
)

_UNARY = [
    _u("x", lambda u: u, lambda u: u, "{0}", "{0}", "{0}", 0, in_tree=False,
       description="identity"),
    _u("neg", lambda u: -u, lambda u: -u, "-{0}", "-{0}", "-{0}", 1,
       c=c_unary("-{a}", "-1.0f")),
    _u("abs", sympy.Abs, np.abs, "torch.abs({0})", "{xp}.abs({0})",
       "\\left|{0}\\right|", 1,
       c=c_unary("fabsf({a})", "as_sign({a})")),
    _u("square", lambda u: u**2, np.square, "torch.square({0})", "{xp}.square({0})",
       "\\left({0}\\right)^{{2}}", 1,
       c=c_unary("{a} * {a}", "2.0f * {a}")),
    _u("cube", lambda u: u**3, lambda u: u**3, "{0} ** 3", "{0} ** 3",
       "\\left({0}\\right)^{{3}}", 1,
       c=c_unary("{a} * {a} * {a}", "3.0f * ({a} * {a})")),
    _u("sqrt", lambda u: sympy.sqrt(sympy.Abs(u)), lambda u: np.sqrt(np.abs(u)),
       f"torch.sqrt(torch.clamp(torch.abs({{0}}), min={SQRT_EPS!r}))",
       f"{{xp}}.sqrt({{xp}}.maximum({{xp}}.abs({{0}}), {SQRT_EPS!r}))",
       "\\sqrt{{\\left|{0}\\right|}}", 2,
       guard="sqrt of |x| clamped below at 1e-12: the derivative 1/(2 sqrt|x|) stays <= 5e5",
       description="square root of |x|",
       c=c_unary(f"sqrtf(as_max(fabsf({{a}}), {_f(SQRT_EPS)}))",
                 f"(fabsf({{a}}) >= {_f(SQRT_EPS)} ? as_sign({{a}}) * 0.5f / {{y}} : 0.0f)")),
    _u("beta_mul", lambda u, b: b * u, lambda u, b: b * u, "{beta} * {0}", "{beta} * {0}",
       "\\beta {0}", 1, has_beta=True, beta_init=1.0, description="beta * x",
       c=COp(lambda a, b, beta, n: f"{beta} * {a}", lambda y, a, b, beta, n: (beta, a))),
    _u("beta_add", lambda u, b: u + b, lambda u, b: u + b, "{0} + {beta}", "{0} + {beta}",
       "{0} + \\beta", 1, has_beta=True, beta_init=0.0,
       description="x + beta (beta starts at 0, so the operator starts as the identity)",
       c=COp(lambda a, b, beta, n: f"{a} + {beta}", lambda y, a, b, beta, n: ("1.0f", "1.0f"))),
    _u("log_abs", lambda u: sympy.log(sympy.Abs(u)), lambda u: np.log(np.abs(u)),
       f"torch.log(torch.abs({{0}}) + {LOG_EPS!r})",
       f"{{xp}}.log({{xp}}.abs({{0}}) + {LOG_EPS!r})",
       "\\log\\left|{0}\\right|", 2,
       guard="log(|x| + 1e-6): finite at 0, derivative <= 1e6", description="log(|x| + eps)",
       c=c_unary(f"logf(fabsf({{a}}) + {_f(LOG_EPS)})", f"as_sign({{a}}) / (fabsf({{a}}) + {_f(LOG_EPS)})")),
    _u("exp", sympy.exp, np.exp,
       f"torch.exp(torch.clamp({{0}}, max={EXP_MAX!r}))",
       f"{{xp}}.exp({{xp}}.minimum({{0}}, {EXP_MAX!r}))",
       "e^{{{0}}}", 2, guard="argument clamped above at 80: exp(80) ~ 5.5e34 is finite in fp32",
       c=c_unary(f"as_exp(as_min({{a}}, {_f(EXP_MAX)}))", f"({{a}} <= {_f(EXP_MAX)} ? {{y}} : 0.0f)")),
    _u("sin", sympy.sin, np.sin, "torch.sin({0})", "{xp}.sin({0})",
       "\\sin\\left({0}\\right)", 2,
       c=c_unary("sinf({a})", "cosf({a})")),
    _u("cos", sympy.cos, np.cos, "torch.cos({0})", "{xp}.cos({0})",
       "\\cos\\left({0}\\right)", 2,
       c=c_unary("cosf({a})", "-sinf({a})")),
    _u("sinh", sympy.sinh, np.sinh,
       f"torch.sinh(torch.clamp({{0}}, -{HYPERBOLIC_MAX!r}, {HYPERBOLIC_MAX!r}))",
       f"{{xp}}.sinh({{xp}}.clip({{0}}, -{HYPERBOLIC_MAX!r}, {HYPERBOLIC_MAX!r}))",
       "\\sinh\\left({0}\\right)", 2, guard="argument clamped to [-80, 80]",
       c=c_unary(f"sinhf({_C_HYP})", f"as_in({{a}}, {_f(-HYPERBOLIC_MAX)}, {_f(HYPERBOLIC_MAX)}, coshf({_C_HYP}))")),
    _u("cosh", sympy.cosh, np.cosh,
       f"torch.cosh(torch.clamp({{0}}, -{HYPERBOLIC_MAX!r}, {HYPERBOLIC_MAX!r}))",
       f"{{xp}}.cosh({{xp}}.clip({{0}}, -{HYPERBOLIC_MAX!r}, {HYPERBOLIC_MAX!r}))",
       "\\cosh\\left({0}\\right)", 2, guard="argument clamped to [-80, 80]",
       c=c_unary(f"coshf({_C_HYP})", f"as_in({{a}}, {_f(-HYPERBOLIC_MAX)}, {_f(HYPERBOLIC_MAX)}, sinhf({_C_HYP}))")),
    _u("tanh", sympy.tanh, np.tanh, "torch.tanh({0})", "{xp}.tanh({0})",
       "\\tanh\\left({0}\\right)", 2,
       c=c_unary("tanhf({a})", "1.0f - {y} * {y}")),
    _u("asinh", sympy.asinh, np.arcsinh, "torch.asinh({0})", "{xp}.arcsinh({0})",
       "\\operatorname{{asinh}}\\left({0}\\right)", 2,
       c=c_unary("asinhf({a})", "1.0f / sqrtf({a} * {a} + 1.0f)")),
    _u("atan", sympy.atan, np.arctan, "torch.atan({0})", "{xp}.arctan({0})",
       "\\arctan\\left({0}\\right)", 2,
       c=c_unary("atanf({a})", "1.0f / (1.0f + {a} * {a})")),
    _u("sinc", sympy.sinc, lambda u: np.sinc(u / np.pi),
       "_sinc({0})", "{xp}.sinc({0} / math.pi)",
       "\\operatorname{{sinc}}\\left({0}\\right)", 2,
       guard="|x| < 0.5 uses the Taylor series to x^8 (error < 3e-11): sin(x)/x and its "
       "derivative cos(x)/x - sin(x)/x^2 cancel badly near 0 (torch.sinc's own backward is "
       "off by 3e-4 in fp32 there); the other branch sees x = 1 there, so no 0/0 gradient", description="sin(x)/x, 1 at 0",
       c=c_unary("as_sinc({a})", "as_dsinc({a})", *_C_SINC)),
    _u("relu", lambda u: sympy.Max(u, 0), lambda u: np.maximum(u, 0.0),
       "torch.relu({0})", "{xp}.maximum({0}, 0.0)",
       "\\max\\left({0}, 0\\right)", 1, description="max(x, 0)",
       c=c_unary("as_max({a}, 0.0f)", "({a} > 0.0f ? 1.0f : 0.0f)")),
    _u("min0", lambda u: sympy.Min(u, 0), lambda u: np.minimum(u, 0.0),
       "-torch.relu(-({0}))", "{xp}.minimum({0}, 0.0)",
       "\\min\\left({0}, 0\\right)", 1,
       description="min(x, 0); computed as -relu(-x) so its derivative at 0 is 0 like relu's",
       c=c_unary("as_min({a}, 0.0f)", "({a} < 0.0f ? 1.0f : 0.0f)")),
    _u("sigmoid", _sym_sigmoid, _sigmoid_np, "torch.sigmoid({0})", "_sigmoid({0})",
       "\\sigma\\left({0}\\right)", 2,
       c=c_unary("as_sigmoid({a})", "{y} * (1.0f - {y})")),
    _u("softplus", lambda u: sympy.log(1 + sympy.exp(u)), _softplus_np,
       "torch.nn.functional.softplus({0})", "{xp}.logaddexp(0.0, {0})",
       "\\operatorname{{softplus}}\\left({0}\\right)", 2,
       guard="computed as a stable softplus / logaddexp, never log(1 + exp(x))",
       description="log(1 + exp(x))",
       # torch's softplus (threshold 20): linear above, log1p(exp(x)) below
       c=c_unary("as_select({a} > 20.0f, {a}, log1pf(as_exp({a})))",
                 "as_select({a} > 20.0f, 1.0f, as_sigmoid({a}))")),
    _u("gauss", lambda u: sympy.exp(-(u**2)), lambda u: np.exp(-np.square(u)),
       f"torch.exp(-torch.square(torch.clamp({{0}}, -{GAUSS_MAX!r}, {GAUSS_MAX!r})))",
       f"{{xp}}.exp(-{{xp}}.square({{xp}}.clip({{0}}, -{GAUSS_MAX!r}, {GAUSS_MAX!r})))",
       "e^{{-\\left({0}\\right)^{{2}}}}", 2,
       guard="argument clamped to [-100, 100]: x^2 cannot overflow (whose gradient would be "
       "inf * 0 = NaN)", description="exp(-x^2)",
       c=c_unary(f"as_exp(-({_C_SQ} * {_C_SQ}))",
                 f"as_in({{a}}, {_f(-GAUSS_MAX)}, {_f(GAUSS_MAX)}, -2.0f * {_C_SQ} * {{y}})")),
    _u("erf", sympy.erf, scipy.special.erf, "torch.erf({0})", "_erf({0})",
       "\\operatorname{{erf}}\\left({0}\\right)", 2,
       c=c_unary("erff({a})", f"{_f(2.0 / math.sqrt(math.pi))} * as_exp(-({{a}} * {{a}}))")),
    _u("beta", lambda u, b: b, lambda u, b: np.broadcast_to(b, np.shape(u)), "{beta}",
       "{beta}", "\\beta", 1, has_beta=True, beta_init=1.0, in_tree=False,
       description="the constant beta"),
    _u("gelu", lambda u: u * (1 + sympy.erf(u / sympy.sqrt(2))) / 2, _gelu_np,
       "torch.nn.functional.gelu({0})", "_gelu({0})",
       "\\operatorname{{GELU}}\\left({0}\\right)", 3, description="x * Phi(x), exact form",
       c=c_unary(f"0.5f * {{a}} * (1.0f + erff({{a}} * {_C_SQRT_1_2}))",
                 f"0.5f * (1.0f + erff({{a}} * {_C_SQRT_1_2})) + {{a}} * {_f(1 / math.sqrt(2 * math.pi))}"
                 " * as_exp(-0.5f * {a} * {a})")),
    _u("softsign", lambda u: u / (1 + sympy.Abs(u)), lambda u: u / (1 + np.abs(u)),
       "torch.nn.functional.softsign({0})", "{0} / (1.0 + {xp}.abs({0}))",
       "\\operatorname{{softsign}}\\left({0}\\right)", 2,
       c=c_unary("{a} / (1.0f + fabsf({a}))", "1.0f / ((1.0f + fabsf({a})) * (1.0f + fabsf({a})))")),
    _u("elu", _sym_elu, _elu_np, "torch.nn.functional.elu({0})",
       "_elu({0})", "\\operatorname{{ELU}}\\left({0}\\right)", 3,
       guard="torch's elu evaluates expm1 only where it is selected",
       c=c_unary("as_select({a} > 0.0f, {a}, as_expm1({a}))", "as_select({a} > 0.0f, 1.0f, as_exp({a}))")),
    _u("selu", lambda u: SELU_SCALE * sympy.Piecewise((u, u > 0), (SELU_ALPHA * (sympy.exp(u) - 1), True)),
       lambda u: SELU_SCALE * np.where(u > 0, u, SELU_ALPHA * np.expm1(np.minimum(u, 0.0))),
       "torch.nn.functional.selu({0})", f"{SELU_SCALE!r} * _elu({{0}}, {SELU_ALPHA!r})",
       "\\operatorname{{SELU}}\\left({0}\\right)", 3,
       c=c_unary(f"{_f(SELU_SCALE)} * as_select({{a}} > 0.0f, {{a}}, {_f(SELU_ALPHA)} * as_expm1({{a}}))",
                 f"as_select({{a}} > 0.0f, {_f(SELU_SCALE)}, {_f(SELU_SCALE * SELU_ALPHA)} * as_exp({{a}}))")),
    _u("powi", lambda u, n: u**n, lambda u, n: u**n, "{0} ** {n}", "{0} ** {n}",
       "\\left({0}\\right)^{{{n}}}", 2, searchable=False,
       description="integer power x^n, 4 <= n <= MAX_EXPONENT (x^2, x^3 are square, cube)",
       c=COp(lambda a, b, beta, n: c_power(a, int(n)),
             lambda y, a, b, beta, n: (f"{_f(n)} * {c_power(a, int(n) - 1)}",))),
    _u("hardsigmoid", lambda u: sympy.Min(sympy.Max(u / 6 + sympy.Rational(1, 2), 0), 1),
       lambda u: np.clip(u / 6.0 + 0.5, 0.0, 1.0), "torch.nn.functional.hardsigmoid({0})",
       "{xp}.clip({0} / 6.0 + 0.5, 0.0, 1.0)",
       "\\operatorname{{hardsigmoid}}\\left({0}\\right)", 2,
       c=c_unary("as_min(as_max({a} + 3.0f, 0.0f), 6.0f) / 6.0f",
                 "(({a} > -3.0f) & ({a} < 3.0f) ? 1.0f / 6.0f : 0.0f)")),
    _u("hardswish", lambda u: u * sympy.Min(sympy.Max(u + 3, 0), 6) / 6,
       lambda u: u * np.clip(u + 3.0, 0.0, 6.0) / 6.0, "torch.nn.functional.hardswish({0})",
       "{0} * {xp}.clip({0} + 3.0, 0.0, 6.0) / 6.0",
       "\\operatorname{{hardswish}}\\left({0}\\right)", 2,
       c=c_unary("{a} * as_min(as_max({a} + 3.0f, 0.0f), 6.0f) / 6.0f",
                 "({a} <= -3.0f ? 0.0f : ({a} < 3.0f ? {a} / 3.0f + 0.5f : 1.0f))")),
]

_BINARY = [
    _b("add", lambda a, b: a + b, lambda a, b: a + b, "{0} + {1}", "{0} + {1}",
       "{0} + {1}", 1,
       c=COp(lambda a, b, beta, n: f"{a} + {b}", lambda y, a, b, beta, n: ("1.0f", "1.0f"))),
    _b("sub", lambda a, b: a - b, lambda a, b: a - b, "{0} - {1}", "{0} - {1}",
       "{0} - {1}", 1,
       c=COp(lambda a, b, beta, n: f"{a} - {b}", lambda y, a, b, beta, n: ("1.0f", "-1.0f"))),
    _b("mul", lambda a, b: a * b, lambda a, b: a * b, "{0} * {1}", "{0} * {1}",
       "{0} {1}", 1,
       c=COp(lambda a, b, beta, n: f"{a} * {b}", lambda y, a, b, beta, n: (b, a))),
    _b("div", lambda a, b: a / b, lambda a, b: a / b, "_safe_div({0}, {1})", "_safe_div({0}, {1})",
       "\\frac{{{0}}}{{{1}}}", 2,
       guard="a denominator with |x2| < 1e-3 is replaced by +-1e-3 (sign kept, 0 -> +): the "
       "value and both derivatives stay finite; the replaced branch has zero gradient",
       description="x1 / x2, guarded",
       c=COp(lambda a, b, beta, n: f"{a} / as_den({b})",
             lambda y, a, b, beta, n: (f"1.0f / as_den({b})",
                                       f"(fabsf({b}) < {_f(DIV_EPS)} ? 0.0f : -{a} / ({b} * {b}))"),
             (_C_DEN,))),
    _b("max", sympy.Max, np.maximum, "_maximum({0}, {1})", "{xp}.maximum({0}, {1})",
       "\\max\\left({0}, {1}\\right)", 1,
       c=COp(lambda a, b, beta, n: f"as_max({a}, {b})",
             lambda y, a, b, beta, n: (f"as_tie({a}, {b})", f"as_tie({b}, {a})"), (_C_TIE,))),
    _b("min", sympy.Min, np.minimum, "_minimum({0}, {1})", "{xp}.minimum({0}, {1})",
       "\\min\\left({0}, {1}\\right)", 1,
       c=COp(lambda a, b, beta, n: f"as_min({a}, {b})",
             lambda y, a, b, beta, n: (f"as_tie({b}, {a})", f"as_tie({a}, {b})"), (_C_TIE,))),
    _b("sigmoid_mul", lambda a, b: _sym_sigmoid(a) * b, lambda a, b: _sigmoid_np(a) * b,
       "torch.sigmoid({0}) * {1}", "_sigmoid({0}) * {1}",
       "\\sigma\\left({0}\\right) {1}", 2, description="sigmoid(x1) * x2",
       c=COp(lambda a, b, beta, n: f"as_sigmoid({a}) * {b}",
             lambda y, a, b, beta, n: (f"{b} * as_sigmoid({a}) * (1.0f - as_sigmoid({a}))",
                                       f"as_sigmoid({a})"))),
    _b("gauss_diff", lambda a, b, beta: sympy.exp(-beta * (a - b) ** 2),
       lambda a, b, beta: np.exp(-beta * np.square(a - b)),
       f"torch.exp(torch.clamp(-{{beta}} * torch.square(torch.clamp({{0}} - {{1}}, "
       f"-{GAUSS_MAX!r}, {GAUSS_MAX!r})), max={EXP_BETA_MAX!r}))",
       f"{{xp}}.exp({{xp}}.minimum(-{{beta}} * {{xp}}.square({{xp}}.clip({{0}} - {{1}}, "
       f"-{GAUSS_MAX!r}, {GAUSS_MAX!r})), {EXP_BETA_MAX!r}))",
       "e^{{-\\beta \\left({0} - {1}\\right)^{{2}}}}", 3, has_beta=True, beta_init=1.0,
       guard="difference clamped to [-100, 100] and exponent clamped above at 70 (beta may "
       "turn negative during training; at 80 the beta-gradient -(x1 - x2)^2 exp(.) overflows)",
       description="exp(-beta (x1 - x2)^2)",
       c=COp(lambda a, b, beta, n: f"as_gauss_diff({a}, {b}, {beta})",
             lambda y, a, b, beta, n: (f"as_gauss_diff_da({a}, {b}, {beta}, {y})",
                                       f"-as_gauss_diff_da({a}, {b}, {beta}, {y})",
                                       f"as_gauss_diff_dbeta({a}, {b}, {beta}, {y})"), _C_GAUSS_DIFF)),
    _b("abs_exp_diff", lambda a, b, beta: sympy.exp(-beta * sympy.Abs(a - b)),
       lambda a, b, beta: np.exp(-beta * np.abs(a - b)),
       f"torch.exp(torch.clamp(-{{beta}} * torch.abs({{0}} - {{1}}), max={EXP_BETA_MAX!r}))",
       f"{{xp}}.exp({{xp}}.minimum(-{{beta}} * {{xp}}.abs({{0}} - {{1}}), {EXP_BETA_MAX!r}))",
       "e^{{-\\beta \\left|{0} - {1}\\right|}}", 3, has_beta=True, beta_init=1.0,
       guard="exponent clamped above at 70 (beta may turn negative during training; at 80 the "
       "beta-gradient -|x1 - x2| exp(.) overflows for |x1 - x2| = 2e4)",
       description="exp(-beta |x1 - x2|)",
       c=COp(lambda a, b, beta, n: f"as_abs_exp_diff({a}, {b}, {beta})",
             lambda y, a, b, beta, n: (f"as_abs_exp_diff_da({a}, {b}, {beta}, {y})",
                                       f"-as_abs_exp_diff_da({a}, {b}, {beta}, {y})",
                                       f"as_abs_exp_diff_dbeta({a}, {b}, {beta}, {y})"), _C_ABS_EXP_DIFF)),
    _b("beta_mix", lambda a, b, beta: beta * a + (1 - beta) * b,
       lambda a, b, beta: beta * a + (1 - beta) * b,
       "{beta} * {0} + (1.0 - {beta}) * {1}", "{beta} * {0} + (1.0 - {beta}) * {1}",
       "\\beta {0} + \\left(1 - \\beta\\right) {1}", 2, has_beta=True, beta_init=0.5,
       description="beta x1 + (1 - beta) x2, beta starts at 0.5",
       c=COp(lambda a, b, beta, n: f"{beta} * {a} + (1.0f - {beta}) * {b}",
             lambda y, a, b, beta, n: (beta, f"1.0f - {beta}", f"{a} - {b}"))),
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
