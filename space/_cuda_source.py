"""Expression → CUDA: a whole population's activations as one element-wise GPU kernel.

Why: on a GPU each member's candidate as PyTorch ops launches a few kernels per operator, per
member, per activation site, forward and backward; a population step of 32 small MLPs launched
630 kernels and took 15.7 ms on an H100, growing with K (2.8 ms alone): launches, not
arithmetic, bound it. Here one kernel evaluates every element with its member's expression
(a ``switch`` on the member index; members are contiguous blocks, so a warp rarely diverges)
and, in the same pass, its local derivatives ``d = dy/dx`` and ``dp[k] = dy/dβ_k`` — the same
expression tape and operator templates as the CPU kernels (``space._c_source``), so the same
guarded functions and derivative conventions. The backward pass is then the chain rule in a
few PyTorch ops, whatever K is.

The source is written for PyTorch's jiterator (``torch.cuda.jiterator``, compiled at run time
by NVRTC and cached by PyTorch): a template function with the inputs ``x``, the member index
and ``slots`` parameter values (broadcast per member and channel), and the outputs ``y``,
``d`` and ``dp[0…slots)`` by reference. The jiterator takes at most 8 tensors each way, so a
population may use at most :data:`CUDA_MAX_SLOTS` parameters per member.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from space._c_source import _f, _Tape, c_supported
from space._expr import Expr
from space._operators import DIV_EPS, EXP_BETA_MAX, GAUSS_MAX

CUDA_MAX_SLOTS = 6  # 2 + slots inputs (x, member, β…) and outputs (y, d, dβ…) within the jiterator's 8


# The helpers the C operator templates call, as lambdas: jiterator code must be one template
# function (it parses the name from the text), and the selects need no bit blends on a GPU.
_HELPERS = f"""
    auto as_select = [](bool c, float a, float b) -> float {{ return c ? a : b; }};
    auto as_min = [](float a, float b) -> float {{ return a < b ? a : b; }};
    auto as_max = [](float a, float b) -> float {{ return a > b ? a : b; }};
    auto as_clamp = [](float v, float lo, float hi) -> float {{ return v < lo ? lo : (v > hi ? hi : v); }};
    auto as_in = [](float v, float lo, float hi, float grad) -> float {{ return (v >= lo && v <= hi) ? grad : 0.0f; }};
    auto as_exp = [](float v) -> float {{ return expf(v); }};
    auto as_expm1 = [](float v) -> float {{ return expm1f(v < 80.0f ? v : 80.0f); }};
    auto as_sign = [](float v) -> float {{ return (v > 0.0f ? 1.0f : 0.0f) - (v < 0.0f ? 1.0f : 0.0f); }};
    auto as_sigmoid = [](float v) -> float {{ return 1.0f / (1.0f + expf(-v)); }};
    auto as_tie = [](float a, float b) -> float {{ return 0.5f * ((float)(a > b) + (float)(a >= b)); }};
    auto as_den = [](float b) -> float {{
        return fabsf(b) < {_f(DIV_EPS)} ? (b < 0.0f ? {_f(-DIV_EPS)} : {_f(DIV_EPS)}) : b;
    }};
    auto as_sinc = [](float u) -> float {{
        float u2 = u * u;
        return fabsf(u) < 0.5f ? 1.0f - u2 / 6.0f * (1.0f - u2 / 20.0f * (1.0f - u2 / 42.0f * (1.0f - u2 / 72.0f)))
                               : sinf(u) / u;
    }};
    auto as_dsinc = [](float u) -> float {{
        float u2 = u * u;
        return fabsf(u) < 0.5f
            ? 2.0f * u * (-1.0f / 6.0f + u2 * (2.0f / 120.0f + u2 * (-3.0f / 5040.0f + u2 * (4.0f / 362880.0f))))
            : cosf(u) / u - sinf(u) / (u * u);
    }};
    auto as_gauss_diff = [&](float a, float b, float beta) -> float {{
        float t = as_clamp(a - b, {_f(-GAUSS_MAX)}, {_f(GAUSS_MAX)});
        return expf(as_min(-beta * (t * t), {_f(EXP_BETA_MAX)}));
    }};
    auto as_gauss_diff_da = [&](float a, float b, float beta, float y) -> float {{
        float t = as_clamp(a - b, {_f(-GAUSS_MAX)}, {_f(GAUSS_MAX)});
        float g = (-beta * (t * t) <= {_f(EXP_BETA_MAX)}) ? y : 0.0f;
        return as_in(a - b, {_f(-GAUSS_MAX)}, {_f(GAUSS_MAX)}, g * -beta * 2.0f * t);
    }};
    auto as_gauss_diff_dbeta = [&](float a, float b, float beta, float y) -> float {{
        float t = as_clamp(a - b, {_f(-GAUSS_MAX)}, {_f(GAUSS_MAX)});
        float g = (-beta * (t * t) <= {_f(EXP_BETA_MAX)}) ? y : 0.0f;
        return -g * (t * t);
    }};
    auto as_abs_exp_diff = [&](float a, float b, float beta) -> float {{
        return expf(as_min(-beta * fabsf(a - b), {_f(EXP_BETA_MAX)}));
    }};
    auto as_abs_exp_diff_da = [&](float a, float b, float beta, float y) -> float {{
        float g = (-beta * fabsf(a - b) <= {_f(EXP_BETA_MAX)}) ? y : 0.0f;
        return g * -beta * as_sign(a - b);
    }};
    auto as_abs_exp_diff_dbeta = [&](float a, float b, float beta, float y) -> float {{
        float g = (-beta * fabsf(a - b) <= {_f(EXP_BETA_MAX)}) ? y : 0.0f;
        return -g * fabsf(a - b);
    }};"""


def cuda_supported(exprs: Sequence[Expr]) -> bool:
    """Whether a population of ``exprs`` fits one CUDA kernel: every operator has a C form and
    no expression has more than :data:`CUDA_MAX_SLOTS` parameters."""
    return all(c_supported(e) and len(e.params()) <= CUDA_MAX_SLOTS for e in exprs)


def population_cuda_source(exprs: Sequence[Expr], slots: int) -> str:
    """The jiterator source for a population whose member index ``m`` selects ``exprs[m]``
    (the caller maps members to distinct expressions); ``slots`` ≥ every expression's number
    of parameters."""
    if not cuda_supported(exprs) or any(len(e.params()) > slots for e in exprs) or slots > CUDA_MAX_SLOTS:
        raise ValueError("population does not fit a CUDA kernel")
    ins = ", ".join(["T x_in", "T member_in", *(f"T p{k}_in" for k in range(slots))])
    outs = ", ".join(["T& y", "T& d", *(f"T& dp{k}" for k in range(slots))])
    cases = []
    for index, expr in enumerate(exprs):
        tape = _Tape(expr)
        stores = "".join(f" out_dp[{k}] = g_p{k};" for k in range(len(tape.params)))
        body = "\n            ".join([*tape.forward_lines(), "const float gy = 1.0f;", *tape.backward_lines()])
        cases.append(f"""        case {index}: {{  /* {expr} */
            {body}
            out_y = {tape.root}; out_d = g_x;{stores}
            break;
        }}""")
    params = "".join(f"\n    const float p{k} = (float)p{k}_in; (void)p{k};" for k in range(slots))
    # a name of its own per population: the jiterator caches compiled kernels by name and code
    name = "actsearch_" + hashlib.sha256("\n".join(cases).encode()).hexdigest()[:16]
    writes = "".join(f"\n    dp{k} = T(out_dp[{k}]);" for k in range(slots))
    return f"""template <typename T> void {name}({ins}, {outs}) {{
#ifndef INFINITY
#define INFINITY __int_as_float(0x7f800000)
#endif
#ifndef NAN
#define NAN __int_as_float(0x7fffffff)
#endif{_HELPERS}
    const float x = (float)x_in;
    const int member = (int)(float)member_in;{params}
    float out_y = 0.0f, out_d = 0.0f, out_dp[{max(slots, 1)}] = {{0.0f}};
    switch (member) {{
{chr(10).join(cases)}
    }}
    const float nan_of_x = x != x ? x : 0.0f;  /* NaN inputs stay NaN (rejection sees them) */
    y = T(out_y + nan_of_x);
    d = T(out_d + nan_of_x);{writes}
}}"""
