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

A translation unit is put together from: each operator's C form, kept with its record
(``Operator.c``, see ``space._c_form``), and the helpers it lists; the expression tape
(``space._tape``), shared with the CUDA kernel; and the fixed runtime, real C files shipped in
the package (``space/c/actsearch_runtime.h`` before the kernels, ``actsearch_dispatch.h`` after
them), copied in rather than ``#include``d so that the source alone keys the kernel cache.

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

import functools
from collections.abc import Iterator, Mapping, Sequence
from importlib import resources

from space._c_form import COp
from space._expr import Expr
from space._operators import OPERATORS
from space._tape import Tape, has_c_form, helpers

C_MAX_PARAMS = 8  # per expression; a candidate with more is trained by the PyTorch code
ITEM_ELEMENTS = 16384  # elements per work item (about an L2-resident slice)
RUNTIME = "c/actsearch_runtime.h"  # the fixed C before the kernels (maths helpers, function types)
DISPATCH = "c/actsearch_dispatch.h"  # the fixed C after them (the entry points)


@functools.cache
def runtime_text(name: str) -> str:
    """A file of the C runtime shipped in ``space/c/`` (package data), read once."""
    path = resources.files("space")
    for part in name.split("/"):
        path = path.joinpath(part)
    return path.read_text(encoding="utf-8")


class _COperators(Mapping[str, COp]):
    """The operators that have a C form, by name: a live view of ``OPERATORS`` (an operator
    added there later, a plug-in's, appears here with its ``c``)."""

    def __getitem__(self, name: str) -> COp:
        op = OPERATORS.get(name)
        if op is None or op.c is None:
            raise KeyError(name)
        return op.c

    def __iter__(self) -> Iterator[str]:
        return (name for name, op in list(OPERATORS.items()) if op.c is not None)

    def __len__(self) -> int:
        return sum(1 for _ in self)


C_OPERATORS: Mapping[str, COp] = _COperators()


def c_supported(expr: Expr) -> bool:
    """Whether every operator of ``expr`` has a C form (and it has few enough parameters)."""
    return has_c_form(expr) and len(expr.params()) <= C_MAX_PARAMS


_FIRST_LINE = "/* Generated by actsearch (space._c_source): fused population activation kernels. */"


def _kernels(index: int, expr: Expr, channels_last: bool) -> str:
    tape = Tape(expr)
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
    parts = [f"{_FIRST_LINE}\n{runtime_text(RUNTIME)}",
             *(helper.c_source() for helper in helpers(exprs)),
             f"\n#define ITEM_ELEMENTS {ITEM_ELEMENTS}\n#define MAX_PARAMS {C_MAX_PARAMS}\n"
             f"#define AS_CHANNELS_LAST {int(channels_last)}\n#define AS_DP_SLOTS {max(counts, default=0)}\n"]
    parts += [_kernels(i, e, channels_last) for i, e in enumerate(exprs)]
    parts += [_chain_rule(n, channels_last) for n in sorted(set(counts))]
    names = range(len(exprs))
    parts.append(f"\nstatic const fwd_fn FWD[] = {{{', '.join(f'fwd_{i}' for i in names)}}};")
    parts.append(f"\nstatic const fwd_grad_fn FWD_GRAD[] = {{{', '.join(f'fwd_grad_{i}' for i in names)}}};")
    parts.append(f"\nstatic const bwd_fn BWD[] = {{{', '.join(f'bwd_p{n}' for n in counts)}}};")
    parts.append(f"\n{runtime_text(DISPATCH)}")
    return "\n".join(parts)
