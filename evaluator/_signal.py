"""Signal propagation through a deep random network: does the function explode or die with depth?

Mean-field signal propagation (Poole et al. 2016, "Exponential expressivity in deep neural
networks through transient chaos"; Schoenholz et al. 2017, "Deep information propagation")
says what a deep network does to a signal before any training: the second moment of the
pre-activations ``q_l`` follows ``q_{l+1} = σ_w² E[φ(h)²]`` forward, and the gradients'
second moment is multiplied by ``χ = σ_w² E[φ'(h)²]`` per layer backward. A function whose
``q`` or ``χ`` compounds away from 1 cannot train deep: its signal overflows or vanishes, or its
gradients do, however good it looks in a shallow child network (issue 16: x + x² wins the
2-layer MLP and diverges at depth 12).

The probe measures both on a real finite network rather than by quadrature, so the compiled,
guarded function is what is measured (the same code that trains): ``DEPTH`` fully connected
layers of ``WIDTH`` units, no biases, weights drawn once from a fixed seed with He/Kaiming-normal
fan-in variance ``2 / fan_in`` — the standard initialisation a user puts an activation into, the
same for every candidate, so a function is judged in the network it will meet. The input ``h_0``
is a batch of unit-variance Gaussian pre-activations; ``h_l = W_l φ(h_{l-1})``. A fixed random
unit-variance cotangent is back-propagated from ``h_L``.

The gains are geometric means per layer, so they read like mean-field ``q`` ratios and ``χ``:

* ``signal_gain = (q_L / q_0) ** (1 / L)`` with ``q_l = mean(h_l²)``;
* ``gradient_gain = (g_0 / g_L) ** (1 / L)`` with ``g_l = mean((∂/∂h_l)²)`` — how much the
  gradients' second moment grows per layer going back towards the input.

ReLU under He initialisation is the reference: both gains are exactly 1 in the mean-field
limit (1.01 and 1.00 measured). Which statistics are bounded, the bounds on ``gain ** DEPTH``
and their calibration are in :class:`SignalBounds`.

Example:
    >>> from space import parse
    >>> g = signal_gains(parse("max(x, 0)"))
    >>> round(g.signal_gain, 1), round(g.gradient_gain, 1)
    (1.0, 1.0)
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import torch

from space import Expr, compile_module

DEPTH = 32  # "tens of layers": deep enough that a 1.5x/layer drift is a 4e5x blow-up
WIDTH = 256  # modest: finite-width noise in the gains is ~1/sqrt(WIDTH * BATCH) per layer
BATCH = 64
SEED = 0x516E  # the weights, inputs and cotangent: every candidate meets the same network


@dataclass(frozen=True)
class SignalGains:
    """Per-layer geometric-mean gains of the forward signal and the backward gradient.

    ``inf`` where the signal overflowed float32, ``0`` where it vanished, ``nan`` where a
    moderate signal turned into NaN.
    """

    signal_gain: float
    gradient_gain: float
    depth: int = DEPTH

    def to_json(self) -> dict[str, float]:
        """The two gains, rounded to 4 significant digits (the probe's own precision)."""
        return {"signal_gain": _round(self.signal_gain), "gradient_gain": _round(self.gradient_gain)}

    @property
    def relative_gradient_gain(self) -> float:
        """The gradient's gain per layer divided by the signal's (see :class:`SignalBounds`)."""
        if math.isnan(self.signal_gain) or math.isnan(self.gradient_gain) or self.signal_gain == 0.0:
            return math.nan
        if math.isinf(self.signal_gain):
            return math.nan if math.isinf(self.gradient_gain) else 0.0
        return self.gradient_gain / self.signal_gain

    def text(self) -> str:
        return (f"signal gain {_fmt(self.signal_gain)}/layer, gradient gain {_fmt(self.gradient_gain)}/layer "
                f"({_fmt(self.relative_gradient_gain)}/layer relative to the signal) over {self.depth} "
                f"He-initialised layers")


@dataclass(frozen=True)
class SignalBounds:
    """Accepted ranges of the probe network's whole amplification (``gain ** depth``).

    Two statistics, because the raw gradient gain mixes two different things. Where a signal
    shrinks *uniformly* (SiLU, GELU, GoLU, Smish: their slope at 0 is below ReLU's, so under He
    their small signals lose ~0.3-0.6x/layer), the gradient shrinks with it at the same rate;
    that is a matter of scale, which an init gain or any normalisation layer removes, and those
    functions train. Where the gradient shrinks *while the signal holds* (sigmoid: φ' <= 1/4),
    the units saturate, and no rescaling helps: the vanishing gradient that ReLU replaced
    (Glorot & Bengio 2010). So the gradient is judged relative to the signal,
    ``gradient_gain / signal_gain`` per layer — at a fixed point of the signal this is exactly
    mean-field's χ₁, whose distance from 1 is the order/chaos criterion of Poole et al.; it is
    also the per-layer ratio of relative weight-gradient sizes ``|∂L/∂W_l| / |W_l|``, which
    says whether early and late layers learn at comparable rates.

    Measured with bench/signal_probe.py (depth 32, width 256) over the known-function library
    (``gain ** 32``; the full table is in tests/evaluator/test_signal.py's docstring):

    * signal: usable functions span 1.3e-17 (GoLU, Smish: 0.30/layer) to 3.9e12 (bent identity,
      2.47/layer: |x|-like tails double the second moment under He, as do x, |x|, Snake and the
      Swish paper's cos(x) - x). The failures are non-finite (x², x³, x + x², x² + asinh x,
      x·exp x and squared ReLU overflow float32 within 32 layers), far above (exp: 3e69, 2x:
      8e28), or exactly 0 (x·tanh(gelu x) is quadratic at 0 and collapses);
      ``signal = (1e-24, 1e16)`` keeps more than 3 decades on either side of the usable span;
    * gradient relative to the signal: usable functions span 3e-5 (Gaussian) to 2.8e5 (Snake,
      1.48/layer; saturating functions such as tanh, sin, hard tanh sit in the chaotic phase
      under He's σ_w² = 2, 1.1-1.4/layer); sigmoid-shaped gates are below 3e-14 (sigmoid 1e-32,
      hard sigmoid 1e-40, dSiLU 1e-16, sinc 1e-26); ``gradient = (1e-8, 1e8)`` keeps 2.5 decades
      above Snake and 3.5 below the Gaussian.

    Per layer, those limits are 0.18-3.2x forward and 0.56-1.78x relative gradient: a finite-size
    seed or a different BLAS moves a gain by well under 1%, far from flipping a verdict.
    """

    signal: tuple[float, float] = (1e-24, 1e16)
    gradient: tuple[float, float] = (1e-8, 1e8)

    def verdict(self, gains: SignalGains) -> tuple[str, str] | None:
        """``("signal_propagation", detail)`` when the signal or the gradient explodes or dies."""
        # a failed signal says it all; its gradient is a consequence
        problem = (_outside(gains.signal_gain, gains.depth, self.signal, "signal", "dies")
                   or _outside(gains.relative_gradient_gain, gains.depth, self.gradient, "gradient", "vanishes"))
        if problem is None:
            return None
        return "signal_propagation", (
            f"{problem}: {gains.text()}; limits on gain^{gains.depth}: signal "
            f"{self.signal[0]:.0e}..{self.signal[1]:.0e}, gradient relative to signal "
            f"{self.gradient[0]:.0e}..{self.gradient[1]:.0e}")


SIGNAL_BOUNDS = SignalBounds()


@functools.lru_cache(maxsize=1)
def _network() -> tuple[list[torch.Tensor], torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(SEED)
    std = math.sqrt(2.0 / WIDTH)  # He / Kaiming-normal, fan-in
    weights = [torch.randn(WIDTH, WIDTH, generator=generator) * std for _ in range(DEPTH)]
    inputs = torch.randn(BATCH, WIDTH, generator=generator)
    cotangent = torch.randn(BATCH, WIDTH, generator=generator)
    return weights, inputs, cotangent


def signal_gains(expr: Expr) -> SignalGains:
    """Forward and gradient gain per layer of ``expr`` (β at its initial values) in the probe
    network; deterministic (fixed weights, inputs and cotangent), a few milliseconds."""
    weights, inputs, cotangent = _network()
    activation = compile_module(expr, num_channels=None)
    with torch.enable_grad():
        h = inputs.clone().requires_grad_(True)
        layers = [h]
        for w in weights:
            h = activation(h) @ w.T
            if h.requires_grad:  # a constant function cuts the graph: nothing flows back
                h.retain_grad()
            layers.append(h)
        # float64 moments: a float32 sum of 16k squares would overflow before the values do
        moments = [float(t.detach().double().square().mean()) for t in layers]
        if not all(math.isfinite(m) for m in moments):
            return _overflowed(moments)
        signal = _gain(moments[-1], moments[0], DEPTH)
        if not h.requires_grad:
            return SignalGains(signal, 0.0)
        (h * cotangent).sum().backward()
    grads = [t.grad for t in layers]
    if grads[0] is None or grads[-1] is None:  # a constant function: nothing flows back
        return SignalGains(signal, 0.0)
    g_first, g_last = (float(g.double().square().mean()) for g in (grads[0], grads[-1]))
    return SignalGains(signal, _gain(g_first, g_last, DEPTH))


def _outside(gain: float, depth: int, bounds: tuple[float, float], what: str, low: str) -> str | None:
    """What is wrong with ``gain`` per layer compounded over ``depth`` layers, or None."""
    total = _compound(gain, depth)
    if math.isnan(gain):
        return f"{what} is not finite"
    if total > bounds[1]:
        return f"{what} explodes"
    return f"{what} {low}" if total < bounds[0] else None


def _overflowed(moments: list[float]) -> SignalGains:
    """Gains of a forward pass that went non-finite: ``inf`` where it grew into it (float32
    overflow, or the inf - inf and 0 * inf that follow one), ``nan`` where a finite, moderate
    signal turned into NaN (a function undefined there)."""
    bad = next(i for i, m in enumerate(moments) if not math.isfinite(m))
    grew = math.isinf(moments[bad]) or max(moments[:bad]) > 1e6 * moments[0]
    gain = math.inf if grew else math.nan
    return SignalGains(gain, gain)


def _gain(end: float, start: float, depth: int) -> float:
    if math.isnan(end) or math.isnan(start):
        return math.nan
    if end == math.inf:
        return math.inf
    if end == 0.0:
        return 0.0
    return math.exp(math.log(end / start) / depth)


def _compound(gain: float, depth: int) -> float:
    """``gain ** depth`` without overflow (inf stays inf, 0 stays 0, nan stays nan)."""
    if not math.isfinite(gain) or gain <= 0.0:
        return gain
    return math.exp(min(700.0, depth * math.log(gain)))


def _round(value: float) -> float:
    return float(f"{value:.4g}") if math.isfinite(value) else value


def _fmt(value: float) -> str:
    return f"{value:.3g}" if math.isfinite(value) else str(value)
