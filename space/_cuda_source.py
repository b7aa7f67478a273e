"""Expression → CUDA: a whole population's activations as one element-wise GPU kernel.

Why: on a GPU each member's candidate as PyTorch ops launches a few kernels per operator, per
member, per activation site, forward and backward; a population step of 32 small MLPs launched
630 kernels and took 15.7 ms on an H100, growing with K (2.8 ms alone): launches, not
arithmetic, bound it. Here one kernel evaluates every element with its member's expression
(a ``switch`` on the member index; members are contiguous blocks, so a warp rarely diverges)
and, in the same pass, its local derivatives ``d = dy/dx`` and ``dp[k] = dy/dβ_k`` — the same
expression tape (``space._tape``) and operator C forms (``Operator.c``) as the CPU kernels
(``space._c_source``), so the same guarded functions and derivative conventions; only the
runtime differs (``space/c/actsearch_runtime_cuda.inc``, and an operator helper's
``cuda_body`` where it has one). The backward pass is then the chain rule in a few PyTorch
ops, whatever K is.

The source is written for PyTorch's jiterator (``torch.cuda.jiterator``, compiled at run time
by NVRTC and cached by PyTorch): a template function with the inputs ``x``, the member index
and ``slots`` parameter values (broadcast per member and channel), and the outputs ``y``,
``d`` and ``dp[0…slots)`` by reference. The jiterator takes at most 8 tensors each way, so a
population may use at most :data:`CUDA_MAX_SLOTS` parameters per member.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from space._c_source import c_supported, runtime_text
from space._expr import Expr
from space._tape import Tape, helpers

CUDA_MAX_SLOTS = 6  # 2 + slots inputs (x, member, β…) and outputs (y, d, dβ…) within the jiterator's 8
RUNTIME = "c/actsearch_runtime_cuda.inc"  # the helpers of the C runtime as lambdas, for the function body


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
        tape = Tape(expr)
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
    # the runtime's lambdas, then those of the operators' own helpers (space._c_form)
    lambdas = "".join(f"\n{helper.cuda_source()}" for helper in helpers(exprs))
    runtime = f"\n{runtime_text(RUNTIME).rstrip()}{lambdas}"
    return f"""template <typename T> void {name}({ins}, {outs}) {{
#ifndef INFINITY
#define INFINITY __int_as_float(0x7f800000)
#endif
#ifndef NAN
#define NAN __int_as_float(0x7fffffff)
#endif{runtime}
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
