"""Expression → C: fused forward and backward kernels per candidate, for a whole population.

Why: on a CPU, a candidate written as PyTorch ops costs one kernel launch (and one pass over
memory) per operator and per member, forward and backward. For a population of 32 small MLPs
that was ~800 launches per training step, each on 16k elements: more time than the matrix
products. Here every candidate becomes a C loop that computes its value and, when training,
its local derivatives by reverse-mode differentiation of the same tree, per element, in
registers. GCC vectorises the loops with glibc's vector maths library (``libmvec``).

The C code implements the *guarded* function of ``space._operators`` (the torch templates) with
PyTorch's derivative conventions: clamp passes the gradient on its closed interval, relu/|x|/
sign have derivative 0 at 0, max/min split the gradient between tied operands. A contract test
checks every operator against the torch code, values and gradients. Inputs that are NaN stay
NaN (the C comparisons would otherwise hide a diverging network from the rejection checks).

:func:`population_source` returns a translation unit exporting

    void actsearch_forward(const float *x, float *y, const int64_t *layout,
                           const int32_t *kinds, const int64_t *params, int threads);
    void actsearch_forward_grad(const float *x, float *y, float *d, float *dp, const int64_t *layout,
                                const int32_t *kinds, const int64_t *params, int threads);
    int actsearch_backward(const float *gy, const float *d, const float *dp, float *gx,
                           const int64_t *layout, const int32_t *kinds,
                           const int64_t *param_grads, int threads);  /* 0, or -1: no memory */

``actsearch_forward`` computes the values alone (evaluation); in training,
``actsearch_forward_grad`` also stores each element's local derivatives, ``d = dy/dx`` and
``dp[k] = dy/dβ_k`` (``AS_DP_SLOTS`` arrays shaped like ``x``), by reverse-mode
differentiation of the same tree in the same pass, so that ``actsearch_backward`` is only the
chain rule ``gx = gy * d`` (and ``Σ gy * dp[k]`` per channel). Recomputing the function in the
backward pass instead evaluated every maths call twice: for an activation site of 16 random
candidates (128 × 128 each, one thread) forward and backward took 199 + 273 µs, now 328 + 43.

``kinds[m]`` is member m's expression (an index into the ``exprs`` given), ``params`` and
``param_grads`` hold ``C_MAX_PARAMS`` pointers per member (per-channel arrays of ``C`` floats), and
``layout = (K, O, stride_o, member_stride, R, C, I)`` places member m's element (o, r, c, i) at
``m*member_stride + o*stride_o + (r*C + c)*I + i``. Work is split into items of whole rows that
do not depend on the thread count, and parameter gradients are summed item by item in a fixed
order, so results are identical for any number of threads.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from space._expr import Expr
from space._operators import (
    DIV_EPS,
    EXP_BETA_MAX,
    EXP_MAX,
    GAUSS_MAX,
    HYPERBOLIC_MAX,
    LOG_EPS,
    SELU_ALPHA,
    SELU_SCALE,
    SQRT_EPS,
)

C_MAX_PARAMS = 8  # per expression; a candidate with more is trained by the PyTorch code
ITEM_ELEMENTS = 16384  # elements per work item (about an L2-resident slice)


def _f(value: float) -> str:
    """A float literal in C (single precision)."""
    if math.isinf(value):
        return "INFINITY" if value > 0 else "(-INFINITY)"
    if math.isnan(value):
        return "NAN"
    return f"((float){value!r})"


@dataclass(frozen=True)
class COp:
    """An operator in C: ``value(a, b, beta, n)`` is its value and ``partials(y, a, b, beta, n)``
    its partial derivatives with respect to each operand, then β (if it carries one). Operands
    are names of local variables, so a template may repeat them freely; ``y`` names the value."""

    value: Callable[..., str]
    partials: Callable[..., tuple[str, ...]]


def _unary(value: str, partial: str) -> COp:
    return COp(lambda a, b, beta, n: value.format(a=a),
               lambda y, a, b, beta, n: (partial.format(a=a, y=y),))


def _power(a: str, n: int) -> str:
    """``a**n`` (n >= 1) as products by repeated squaring: libmvec's powf takes a scalar path
    for negative bases, 5x slower."""
    if n == 1:
        return a
    half = _power(a, n // 2)
    square = f"({half} * {half})"
    return f"({square} * {a})" if n % 2 else square


_SQ = f"as_clamp({{a}}, {_f(-GAUSS_MAX)}, {_f(GAUSS_MAX)})"
_HYP = f"as_clamp({{a}}, {_f(-HYPERBOLIC_MAX)}, {_f(HYPERBOLIC_MAX)})"
_SQRT_1_2 = _f(math.sqrt(0.5))

C_OPERATORS: dict[str, COp] = {
    "neg": _unary("-{a}", "-1.0f"),
    "abs": _unary("fabsf({a})", "as_sign({a})"),
    "square": _unary("{a} * {a}", "2.0f * {a}"),
    "cube": _unary("{a} * {a} * {a}", "3.0f * ({a} * {a})"),
    "sqrt": _unary(f"sqrtf(as_max(fabsf({{a}}), {_f(SQRT_EPS)}))",
                   f"(fabsf({{a}}) >= {_f(SQRT_EPS)} ? as_sign({{a}}) * 0.5f / {{y}} : 0.0f)"),
    "log_abs": _unary(f"logf(fabsf({{a}}) + {_f(LOG_EPS)})", f"as_sign({{a}}) / (fabsf({{a}}) + {_f(LOG_EPS)})"),
    "exp": _unary(f"as_exp(as_min({{a}}, {_f(EXP_MAX)}))", f"({{a}} <= {_f(EXP_MAX)} ? {{y}} : 0.0f)"),
    "sin": _unary("sinf({a})", "cosf({a})"),
    "cos": _unary("cosf({a})", "-sinf({a})"),
    "sinh": _unary(f"sinhf({_HYP})", f"as_in({{a}}, {_f(-HYPERBOLIC_MAX)}, {_f(HYPERBOLIC_MAX)}, coshf({_HYP}))"),
    "cosh": _unary(f"coshf({_HYP})", f"as_in({{a}}, {_f(-HYPERBOLIC_MAX)}, {_f(HYPERBOLIC_MAX)}, sinhf({_HYP}))"),
    "tanh": _unary("tanhf({a})", "1.0f - {y} * {y}"),
    "asinh": _unary("asinhf({a})", "1.0f / sqrtf({a} * {a} + 1.0f)"),
    "atan": _unary("atanf({a})", "1.0f / (1.0f + {a} * {a})"),
    "sinc": _unary("as_sinc({a})", "as_dsinc({a})"),
    "relu": _unary("as_max({a}, 0.0f)", "({a} > 0.0f ? 1.0f : 0.0f)"),
    "min0": _unary("as_min({a}, 0.0f)", "({a} < 0.0f ? 1.0f : 0.0f)"),
    "sigmoid": _unary("as_sigmoid({a})", "{y} * (1.0f - {y})"),
    # torch's softplus (threshold 20): linear above, log1p(exp(x)) below
    "softplus": _unary("as_select({a} > 20.0f, {a}, log1pf(as_exp({a})))", "as_select({a} > 20.0f, 1.0f, as_sigmoid({a}))"),
    "gauss": _unary(f"as_exp(-({_SQ} * {_SQ}))",
                    f"as_in({{a}}, {_f(-GAUSS_MAX)}, {_f(GAUSS_MAX)}, -2.0f * {_SQ} * {{y}})"),
    "erf": _unary("erff({a})", f"{_f(2.0 / math.sqrt(math.pi))} * as_exp(-({{a}} * {{a}}))"),
    "gelu": _unary(f"0.5f * {{a}} * (1.0f + erff({{a}} * {_SQRT_1_2}))",
                   f"0.5f * (1.0f + erff({{a}} * {_SQRT_1_2})) + {{a}} * {_f(1 / math.sqrt(2 * math.pi))}"
                   " * as_exp(-0.5f * {a} * {a})"),
    "softsign": _unary("{a} / (1.0f + fabsf({a}))", "1.0f / ((1.0f + fabsf({a})) * (1.0f + fabsf({a})))"),
    "elu": _unary("as_select({a} > 0.0f, {a}, as_expm1({a}))", "as_select({a} > 0.0f, 1.0f, as_exp({a}))"),
    "selu": _unary(f"{_f(SELU_SCALE)} * as_select({{a}} > 0.0f, {{a}}, {_f(SELU_ALPHA)} * as_expm1({{a}}))",
                   f"as_select({{a}} > 0.0f, {_f(SELU_SCALE)}, {_f(SELU_SCALE * SELU_ALPHA)} * as_exp({{a}}))"),
    "hardsigmoid": _unary("as_min(as_max({a} + 3.0f, 0.0f), 6.0f) / 6.0f",
                          "(({a} > -3.0f) & ({a} < 3.0f) ? 1.0f / 6.0f : 0.0f)"),
    "hardswish": _unary("{a} * as_min(as_max({a} + 3.0f, 0.0f), 6.0f) / 6.0f",
                        "({a} <= -3.0f ? 0.0f : ({a} < 3.0f ? {a} / 3.0f + 0.5f : 1.0f))"),
    "powi": COp(lambda a, b, beta, n: _power(a, int(n)),
                lambda y, a, b, beta, n: (f"{_f(n)} * {_power(a, int(n) - 1)}",)),
    "beta_mul": COp(lambda a, b, beta, n: f"{beta} * {a}", lambda y, a, b, beta, n: (beta, a)),
    "beta_add": COp(lambda a, b, beta, n: f"{a} + {beta}", lambda y, a, b, beta, n: ("1.0f", "1.0f")),
    "add": COp(lambda a, b, beta, n: f"{a} + {b}", lambda y, a, b, beta, n: ("1.0f", "1.0f")),
    "sub": COp(lambda a, b, beta, n: f"{a} - {b}", lambda y, a, b, beta, n: ("1.0f", "-1.0f")),
    "mul": COp(lambda a, b, beta, n: f"{a} * {b}", lambda y, a, b, beta, n: (b, a)),
    "div": COp(lambda a, b, beta, n: f"{a} / as_den({b})",
               lambda y, a, b, beta, n: (f"1.0f / as_den({b})",
                                         f"(fabsf({b}) < {_f(DIV_EPS)} ? 0.0f : -{a} / ({b} * {b}))")),
    "max": COp(lambda a, b, beta, n: f"as_max({a}, {b})",
               lambda y, a, b, beta, n: (f"as_tie({a}, {b})", f"as_tie({b}, {a})")),
    "min": COp(lambda a, b, beta, n: f"as_min({a}, {b})",
               lambda y, a, b, beta, n: (f"as_tie({b}, {a})", f"as_tie({a}, {b})")),
    "sigmoid_mul": COp(lambda a, b, beta, n: f"as_sigmoid({a}) * {b}",
                       lambda y, a, b, beta, n: (f"{b} * as_sigmoid({a}) * (1.0f - as_sigmoid({a}))",
                                                 f"as_sigmoid({a})")),
    "gauss_diff": COp(lambda a, b, beta, n: f"as_gauss_diff({a}, {b}, {beta})",
                      lambda y, a, b, beta, n: (f"as_gauss_diff_da({a}, {b}, {beta}, {y})",
                                                f"-as_gauss_diff_da({a}, {b}, {beta}, {y})",
                                                f"as_gauss_diff_dbeta({a}, {b}, {beta}, {y})")),
    "abs_exp_diff": COp(lambda a, b, beta, n: f"as_abs_exp_diff({a}, {b}, {beta})",
                        lambda y, a, b, beta, n: (f"as_abs_exp_diff_da({a}, {b}, {beta}, {y})",
                                                  f"-as_abs_exp_diff_da({a}, {b}, {beta}, {y})",
                                                  f"as_abs_exp_diff_dbeta({a}, {b}, {beta}, {y})")),
    "beta_mix": COp(lambda a, b, beta, n: f"{beta} * {a} + (1.0f - {beta}) * {b}",
                    lambda y, a, b, beta, n: (beta, f"1.0f - {beta}", f"{a} - {b}")),
}

_PRELUDE = f"""\
/* Generated by actsearch (space._c_source): fused population activation kernels. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* glibc's vector maths library (libmvec) has SIMD variants of these; declaring them lets GCC
   vectorise the loops without -ffast-math (which would also drop NaN/inf semantics). They are
   declared under other C names for the same symbols: as builtins, GCC would merge sinf(x) and
   cosf(x) into a sincosf call that has no vector variant, and the loop would stay scalar. */
#define AS_SIMD __attribute__((simd("notinbranch"), const, nothrow))
#define AS_MATH(name) AS_SIMD float as_##name(float) __asm__(#name);
AS_MATH(expf) AS_MATH(logf) AS_MATH(log1pf) AS_MATH(expm1f) AS_MATH(sinf) AS_MATH(cosf)
AS_MATH(sinhf) AS_MATH(coshf) AS_MATH(tanhf) AS_MATH(asinhf) AS_MATH(atanf) AS_MATH(erff)
#define expf as_expf
#define logf as_logf
#define log1pf as_log1pf
#define expm1f as_expm1f
#define sinf as_sinf
#define cosf as_cosf
#define sinhf as_sinhf
#define coshf as_coshf
#define tanhf as_tanhf
#define asinhf as_asinhf
#define atanf as_atanf
#define erff as_erff

/* always inlined: in a translation unit of many candidates GCC's unit-growth limits stopped
   inlining them, and a loop that calls a helper stays scalar */
#define AS_INLINE static inline __attribute__((always_inline))
#define MAX_PARAMS {C_MAX_PARAMS}
/* NaN where x is NaN, else 0: added to a result it propagates NaN inputs. (A select between x
   and the result would let GCC move the maths calls into a branch and not vectorise.) */
#define AS_NAN_OF(x) ((x) != (x) ? (x) : 0.0f)

/* c ? a : b with both evaluated, as a bit blend: a ternary around a maths call became a branch
   (a scalar loop), and ternary selects next to maths calls became masked code up to 40x slower */
AS_INLINE float as_select(int c, float a, float b) {{
    uint32_t m = -(uint32_t)(c != 0), ia, ib, r;
    float out;
    memcpy(&ia, &a, 4); memcpy(&ib, &b, 4);
    r = (ia & m) | (ib & ~m);
    memcpy(&out, &r, 4);
    return out;
}}
/* min/max as selects: fminf/fmaxf carry NaN rules that GCC compiles to branches (NaN inputs are
   handled once, by AS_NAN_OF) */
AS_INLINE float as_min(float a, float b) {{ return as_select(a < b, a, b); }}
AS_INLINE float as_max(float a, float b) {{ return as_select(a > b, a, b); }}
AS_INLINE float as_clamp(float v, float lo, float hi) {{ return v < lo ? lo : (v > hi ? hi : v); }}
/* torch.clamp's gradient: passed on the closed interval, 0 outside */
AS_INLINE float as_in(float v, float lo, float hi, float grad) {{ return as_select((v >= lo) & (v <= hi), grad, 0.0f); }}
/* libmvec's vector expf and expm1f compute lanes beyond +-87.33 in scalar code, 15-25x slower
   (0.3 against 4-8 ns per element, measured): one such lane slows its whole vector, and
   exp(-x^2) gets there for |x| > 9.4. as_exp keeps expf's argument within +-86 by a shift of
   24 and scales the result back (so it still gives denormals below -87, 0 below -104, inf
   above 88.7, like torch.exp); as_expm1 is only selected where x <= 0, so it clamps above. */
AS_INLINE float as_exp(float x) {{
    float c = as_select(x < -110.0f, -110.0f, as_select(x > 110.0f, 110.0f, x));  /* exp is 0 or inf beyond */
    int low = c < -80.0f, high = c > 80.0f;
    float shift = as_select(low, 24.0f, as_select(high, -24.0f, 0.0f));
    float scale = as_select(low, {_f(math.exp(-24.0))}, as_select(high, {_f(math.exp(24.0))}, 1.0f));
    return expf(c + shift) * scale;
}}
AS_INLINE float as_expm1(float x) {{ return expm1f(as_min(x, 80.0f)); }}
AS_INLINE float as_sign(float v) {{ return (v > 0.0f ? 1.0f : 0.0f) - (v < 0.0f ? 1.0f : 0.0f); }}
AS_INLINE float as_sigmoid(float v) {{ return 1.0f / (1.0f + as_exp(-v)); }}
/* d max(a, b) / da: 1 where a wins, 1/2 at a tie (torch.maximum/minimum split it) */
AS_INLINE float as_tie(float a, float b) {{ return 0.5f * ((float)(a > b) + (float)(a >= b)); }}
AS_INLINE float as_den(float b) {{
    return fabsf(b) < {_f(DIV_EPS)} ? (b < 0.0f ? {_f(-DIV_EPS)} : {_f(DIV_EPS)}) : b;
}}
/* sin(u)/u with its Taylor series to u^8 for |u| < 0.5, as space._operators' _sinc */
AS_INLINE float as_sinc(float u) {{
    int small = fabsf(u) < 0.5f;
    float s = small ? 1.0f : u, u2 = small ? u * u : 0.0f;
    float series = 1.0f - u2 / 6.0f * (1.0f - u2 / 20.0f * (1.0f - u2 / 42.0f * (1.0f - u2 / 72.0f)));
    return as_select(small, series, sinf(s) / s);
}}
AS_INLINE float as_dsinc(float u) {{
    int small = fabsf(u) < 0.5f;
    float s = small ? 1.0f : u, u2 = small ? u * u : 0.0f;
    float series = 2.0f * u * (-1.0f / 6.0f + u2 * (2.0f / 120.0f + u2 * (-3.0f / 5040.0f + u2 * (4.0f / 362880.0f))));
    return as_select(small, series, cosf(s) / s - sinf(s) / (s * s));
}}
AS_INLINE float as_gauss_diff(float a, float b, float beta) {{
    float d = as_clamp(a - b, {_f(-GAUSS_MAX)}, {_f(GAUSS_MAX)});
    return as_exp(as_min(-beta * (d * d), {_f(EXP_BETA_MAX)}));
}}
AS_INLINE float as_gauss_diff_da(float a, float b, float beta, float y) {{
    float d = as_clamp(a - b, {_f(-GAUSS_MAX)}, {_f(GAUSS_MAX)});
    float g = (-beta * (d * d) <= {_f(EXP_BETA_MAX)}) ? y : 0.0f;
    return as_in(a - b, {_f(-GAUSS_MAX)}, {_f(GAUSS_MAX)}, g * -beta * 2.0f * d);
}}
AS_INLINE float as_gauss_diff_dbeta(float a, float b, float beta, float y) {{
    float d = as_clamp(a - b, {_f(-GAUSS_MAX)}, {_f(GAUSS_MAX)});
    float g = (-beta * (d * d) <= {_f(EXP_BETA_MAX)}) ? y : 0.0f;
    return -g * (d * d);
}}
AS_INLINE float as_abs_exp_diff(float a, float b, float beta) {{
    return as_exp(as_min(-beta * fabsf(a - b), {_f(EXP_BETA_MAX)}));
}}
AS_INLINE float as_abs_exp_diff_da(float a, float b, float beta, float y) {{
    float g = (-beta * fabsf(a - b) <= {_f(EXP_BETA_MAX)}) ? y : 0.0f;
    return g * -beta * as_sign(a - b);
}}
AS_INLINE float as_abs_exp_diff_dbeta(float a, float b, float beta, float y) {{
    float g = (-beta * fabsf(a - b) <= {_f(EXP_BETA_MAX)}) ? y : 0.0f;
    return -g * fabsf(a - b);
}}

typedef void (*fwd_fn)(const float *restrict, float *restrict, int64_t, const float *const *, int64_t);
typedef void (*fwd_grad_fn)(const float *restrict, float *restrict, float *restrict, float *const *, int64_t,
                            const float *const *, int64_t);
typedef void (*bwd_fn)(const float *restrict, const float *restrict, const float *const *, float *restrict,
                       int64_t, int64_t, float *const *);
"""

_DISPATCH = """
enum { AS_VALUE, AS_VALUE_GRAD, AS_BACKWARD };

typedef struct {
    const float *x, *gy; float *y, *d, *dp, *gx;
    const int64_t *layout, *params; const int32_t *kinds;
    float *partials; int64_t items_per_member, rows_per_item, n_items, numel;
    int mode, threads;
} as_job;

/* One contiguous run of n elements at `at`; c: its channel where runs are per channel. */
static void as_run(const as_job *job, int kind, int64_t at, int64_t n, int64_t c,
                   const float *const *P, float *const *G) {
    float *DP[MAX_PARAMS] = {0};  /* the runs of the local parameter derivatives: slot k at k * numel */
    for (int k = 0; k < AS_DP_SLOTS; k++) DP[k] = job->dp + k * job->numel + at;
    switch (job->mode) {
    case AS_VALUE: FWD[kind](job->x + at, job->y + at, n, P, c); break;
    case AS_VALUE_GRAD: FWD_GRAD[kind](job->x + at, job->y + at, job->d + at, DP, n, P, c); break;
    default: BWD[kind](job->gy + at, job->d + at, (const float *const *)DP, job->gx + at, n, c, G);
    }
}

static void as_run_item(const as_job *job, int64_t item) {
    const int64_t *L = job->layout;
    int64_t O = L[1], stride_o = L[2], member_stride = L[3], R = L[4], C = L[5], I = L[6];
    int64_t m = item / job->items_per_member, chunk = item % job->items_per_member;
    int64_t rows = O * R, lo = chunk * job->rows_per_item;
    int64_t hi = lo + job->rows_per_item < rows ? lo + job->rows_per_item : rows;
    int kind = job->kinds[m];
    const float *const *P = job->params ? (const float *const *)(job->params + m * MAX_PARAMS) : 0;
    float *G[MAX_PARAMS] = {0};
    if (job->partials)  /* the backward pass: this item's own slice of parameter gradients */
        for (int k = 0; k < MAX_PARAMS; k++) G[k] = job->partials + (item * MAX_PARAMS + k) * C;
    for (int64_t row = lo; row < hi; row++) {
        int64_t base = m * member_stride + (row / R) * stride_o + (row % R) * C * I;
#if AS_CHANNELS_LAST  /* I == 1: one run over the channels, parameter k of element c is P[k][c] */
        (void)I;
        as_run(job, kind, base, C, 0, P, G);
#else  /* channels first: a run over the inner elements of each channel c, one parameter value */
        for (int64_t c = 0; c < C; c++) as_run(job, kind, base + c * I, I, c, P, G);
#endif
    }
}

/* OpenMP: linked as libgomp.so.1, the library PyTorch's CPU build already loaded, so these
   are PyTorch's own intra-op threads. (Threads of our own fought with PyTorch's, which spin
   for a while after every parallel operator: the kernels ran 3x slower inside a training step.)
   Each item writes only its own outputs, so the schedule changes nothing in the results. */
static void as_launch(const as_job *job) {
    int threads = job->threads < 1 ? 1 : job->threads;
    #pragma omp parallel for schedule(dynamic, 1) num_threads(threads) if (threads > 1 && job->n_items > 1)
    for (int64_t item = 0; item < job->n_items; item++) as_run_item(job, item);
}

static as_job as_plan(int mode, const int64_t *layout, const int32_t *kinds, int threads) {
    as_job job; memset(&job, 0, sizeof job);
    job.mode = mode; job.layout = layout; job.kinds = kinds; job.threads = threads;
    int64_t rows = layout[1] * layout[4], run = layout[5] * layout[6];
    int64_t per = run > 0 ? ITEM_ELEMENTS / run : 1;
    job.rows_per_item = per < 1 ? 1 : per;
    job.items_per_member = rows > 0 ? (rows + job.rows_per_item - 1) / job.rows_per_item : 0;
    job.n_items = layout[0] * job.items_per_member;
    job.numel = layout[1] * layout[2];
    return job;
}

void actsearch_forward(const float *x, float *y, const int64_t *layout, const int32_t *kinds,
                       const int64_t *params, int threads) {
    as_job job = as_plan(AS_VALUE, layout, kinds, threads);
    job.x = x; job.y = y; job.params = params;
    if (job.n_items > 0) as_launch(&job);
}

void actsearch_forward_grad(const float *x, float *y, float *d, float *dp, const int64_t *layout,
                            const int32_t *kinds, const int64_t *params, int threads) {
    as_job job = as_plan(AS_VALUE_GRAD, layout, kinds, threads);
    job.x = x; job.y = y; job.d = d; job.dp = dp; job.params = params;
    if (job.n_items > 0) as_launch(&job);
}

/* Parameter gradients: each item sums into its own slice of `partials`, then the slices are
   added per member in item order, so the sum does not depend on the number of threads. */
int actsearch_backward(const float *gy, const float *d, const float *dp, float *gx, const int64_t *layout,
                       const int32_t *kinds, const int64_t *param_grads, int threads) {
    as_job job = as_plan(AS_BACKWARD, layout, kinds, threads);
    job.gy = gy; job.d = (float *)d; job.dp = (float *)dp; job.gx = gx;  /* read only here */
    int64_t C = layout[5];
    if (AS_DP_SLOTS > 0) {
        job.partials = calloc((size_t)(job.n_items * MAX_PARAMS * C + 1), sizeof(float));
        if (!job.partials) return -1;
    }
    if (job.n_items > 0) as_launch(&job);
    for (int64_t m = 0; m < layout[0] && job.partials; m++) {
        for (int k = 0; k < MAX_PARAMS; k++) {
            float *out = (float *)(intptr_t)param_grads[m * MAX_PARAMS + k];
            if (!out) continue;
            for (int64_t c = 0; c < C; c++) out[c] = 0.0f;
            for (int64_t i = 0; i < job.items_per_member; i++) {
                const float *part = job.partials + ((m * job.items_per_member + i) * MAX_PARAMS + k) * C;
                for (int64_t c = 0; c < C; c++) out[c] += part[c];
            }
        }
    }
    free(job.partials);
    return 0;
}
"""


class _Tape:
    """One expression as straight-line code: nodes in evaluation order, shared sub-trees once."""

    def __init__(self, expr: Expr) -> None:
        self.params = expr.params()
        self.names: dict[Expr, str] = {}
        self.nodes: list[Expr] = []
        self._visit(expr)
        self.root = self.names[expr]

    def _visit(self, node: Expr) -> None:
        if node in self.names:
            return
        for arg in node.args:
            self._visit(arg)
        if node.op == "x":
            self.names[node] = "x"
        elif node.op == "param":
            self.names[node] = f"p{self.params.index(str(node.param))}"
        elif node.op == "const":
            assert node.value is not None
            self.names[node] = _f(node.value)
        else:
            self.names[node] = f"v{len(self.nodes)}"
            self.nodes.append(node)

    def _operands(self, node: Expr) -> tuple[str, str, str, float]:
        args = [self.names[a] for a in node.args] + ["", ""]
        beta = f"p{self.params.index(node.param)}" if node.param else ""
        return args[0], args[1], beta, node.value if node.value is not None else 0.0

    def forward_lines(self) -> list[str]:
        lines = []
        for node in self.nodes:
            a, b, beta, n = self._operands(node)
            lines.append(f"const float {self.names[node]} = {C_OPERATORS[node.op].value(a, b, beta, n)};")
        return lines

    def backward_lines(self) -> list[str]:
        """Adjoints ``g_<name>``: seeded with ``gy`` at the root, pushed to the leaves."""
        lines = ["float g_x = 0.0f;"]
        lines += [f"float g_p{k} = 0.0f;" for k in range(len(self.params))]
        lines += [f"float g_{self.names[node]} = 0.0f;" for node in self.nodes]
        if self.root == "x" or self.root.startswith("p"):
            lines.append(f"g_{self.root} += gy;")
        elif self.root.startswith("v"):
            lines.append(f"g_{self.root} = gy;")
        for node in reversed(self.nodes):
            name = self.names[node]
            a, b, beta, n = self._operands(node)
            partials = C_OPERATORS[node.op].partials(name, a, b, beta, n)
            targets = [self.names[arg] for arg in node.args] + ([beta] if beta else [])
            for target, partial in zip(targets, partials, strict=True):
                if target == "x" or target.startswith(("v", "p")):
                    lines.append(f"g_{target} += g_{name} * ({partial});")
        return lines


def c_supported(expr: Expr) -> bool:
    """Whether every operator of ``expr`` has a C form (and it has few enough parameters)."""
    ops_known = all(n.op in C_OPERATORS for n in expr.walk() if n.op not in ("x", "param", "const"))
    return ops_known and len(expr.params()) <= C_MAX_PARAMS


def _kernels(index: int, expr: Expr, channels_last: bool) -> str:
    tape = _Tape(expr)
    # channels last: parameter k of element e is P[k][e]; else one channel c0 per run
    bidx = "e" if channels_last else "c0"
    ks = range(len(tape.params))
    loads = [f"const float p{k} = P[{k}][{bidx}];" for k in ks]
    fwd = "\n        ".join(loads + tape.forward_lines())
    grad = "\n        ".join(["const float gy = 1.0f;", *loads, *tape.forward_lines(), *tape.backward_lines()])
    # local restrict pointers: GCC vectorises stores through them without alias checks
    outs = "".join(f"\n    float *restrict dp{k} = DP[{k}];" for k in ks)
    stores = "".join(f"\n        dp{k}[e] = g_p{k};" for k in ks)
    return f"""
/* {expr} */
static void fwd_{index}(const float *restrict X, float *restrict Y, int64_t n,
                        const float *const *P, int64_t c0) {{
    (void)P; (void)c0;
    #pragma omp simd
    for (int64_t e = 0; e < n; e++) {{
        const float x = X[e];
        {fwd}
        Y[e] = {tape.root} + AS_NAN_OF(x);
    }}
}}
static void fwd_grad_{index}(const float *restrict X, float *restrict Y, float *restrict D,
                             float *const *DP, int64_t n, const float *const *P, int64_t c0) {{
    (void)P; (void)c0; (void)DP;{outs}
    #pragma omp simd
    for (int64_t e = 0; e < n; e++) {{
        const float x = X[e];
        {grad}
        Y[e] = {tape.root} + AS_NAN_OF(x);
        D[e] = g_x + AS_NAN_OF(x);{stores}
    }}
}}"""


def _chain_rule(count: int, channels_last: bool) -> str:
    """The backward kernel of every expression with ``count`` parameters: ``gx = gy * d``, and
    each parameter's gradient summed from ``gy * dp[k]``."""
    ks = range(count)
    ins = "".join(f"\n    const float *restrict dp{k} = DP[{k}];" for k in ks)
    if channels_last:
        loop_head, flush = "#pragma omp simd\n    ", ""
        ins += "".join(f"\n    float *restrict g{k} = G[{k}];" for k in ks)
        accumulate = "".join(f"\n        g{k}[e] += gy * dp{k}[e];" for k in ks)
    else:  # a parameter's gradient is summed over the run
        accumulate = "".join(f"\n        acc{k} += gy * dp{k}[e];" for k in ks)
        accs = ", ".join(f"acc{k}" for k in ks)
        loop_head = (f"float {', '.join(f'acc{k} = 0.0f' for k in ks)};\n    "
                     f"#pragma omp simd reduction(+:{accs})\n    ") if count else "#pragma omp simd\n    "
        flush = "".join(f"\n    G[{k}][c0] += acc{k};" for k in ks)
    return f"""
static void bwd_p{count}(const float *restrict GY, const float *restrict D, const float *const *DP,
                      float *restrict GX, int64_t n, int64_t c0, float *const *G) {{
    (void)DP; (void)c0; (void)G;{ins}
    {loop_head}for (int64_t e = 0; e < n; e++) {{
        const float gy = GY[e];
        GX[e] = gy * D[e];{accumulate}
    }}{flush}
}}"""


def population_source(exprs: Sequence[Expr], *, channels_last: bool) -> str:
    """The C translation unit for a population whose members use ``exprs`` (distinct
    expressions; members refer to them by index). Every expression must be :func:`c_supported`.
    ``channels_last``: the layout has ``I == 1`` (dense layers); else channels are followed by
    inner elements (convolutions), walked one channel at a time."""
    unsupported = [str(e) for e in exprs if not c_supported(e)]
    if unsupported:
        raise ValueError(f"no C form for: {', '.join(unsupported)}")
    counts = [len(e.params()) for e in exprs]
    parts = [_PRELUDE, f"#define ITEM_ELEMENTS {ITEM_ELEMENTS}\n#define AS_CHANNELS_LAST {int(channels_last)}\n"
                       f"#define AS_DP_SLOTS {max(counts, default=0)}\n"]
    parts += [_kernels(i, e, channels_last) for i, e in enumerate(exprs)]
    parts += [_chain_rule(n, channels_last) for n in sorted(set(counts))]
    names = range(len(exprs))
    parts.append(f"\nstatic const fwd_fn FWD[] = {{{', '.join(f'fwd_{i}' for i in names)}}};")
    parts.append(f"\nstatic const fwd_grad_fn FWD_GRAD[] = {{{', '.join(f'fwd_grad_{i}' for i in names)}}};")
    parts.append(f"\nstatic const bwd_fn BWD[] = {{{', '.join(f'bwd_p{n}' for n in counts)}}};")
    parts.append(_DISPATCH)
    return "\n".join(parts)
