"""Checks before any training: is the function worth a child network at all?

* non-finite value or gradient of the compiled function (fp32) on a probe batch that spans the
  ordinary range and the extremes a diverging network produces;
* a constant or affine function: a network of affine maps is affine, so it cannot beat a
  linear model (the identity ranks last on every task), and training it is wasted.
"""

from __future__ import annotations

import numpy as np
import torch

from space import Expr, compile_module, evaluate

_PROBE = torch.cat([
    torch.linspace(-10.0, 10.0, 1001),
    torch.tensor([-1e4, -1e3, -100.0, 100.0, 1e3, 1e4]),
    torch.randn(1000, generator=torch.Generator().manual_seed(0)) * 3.0,
])
_GRID = np.linspace(-5.0, 5.0, 1001)


def probe(expr: Expr) -> tuple[str, str] | None:
    """``(reason, detail)`` when the candidate should not be trained, else None."""
    module = compile_module(expr, num_channels=None)
    x = _PROBE.clone().requires_grad_(True)
    y = module(x)
    if not torch.isfinite(y).all():
        bad = x.detach()[~torch.isfinite(y.detach())][:3].tolist()
        return "nonfinite_output", f"non-finite output at x = {bad}"
    y.sum().backward()
    grads = [x.grad] + [p.grad for p in module.parameters()]
    if any(g is not None and not torch.isfinite(g).all() for g in grads):
        return "nonfinite_gradient", "non-finite gradient on the probe batch"
    return _affine(expr)


def _affine(expr: Expr) -> tuple[str, str] | None:
    params = expr.param_inits()
    values = evaluate(expr, _GRID, params)
    if not np.isfinite(values).all():
        return None  # the compiled, guarded function was finite; leave it to training
    slope, intercept = np.polyfit(_GRID, values, 1)
    residual = np.max(np.abs(values - (slope * _GRID + intercept)))
    scale = 1.0 + np.max(np.abs(values))
    if residual > 1e-7 * scale:
        return None
    intercept = 0.0 if abs(intercept) <= 1e-9 * scale else intercept  # least-squares noise
    if abs(slope) <= 1e-9 * scale:
        return "constant", f"f(x) = {intercept:.6g} on [-5, 5]"
    return "affine", f"f(x) = {slope:.6g} x {'-' if intercept < 0 else '+'} {abs(intercept):.6g} on [-5, 5]"
