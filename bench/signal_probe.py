"""The signal-propagation probe over the known-function library and functions that fail deep.

For every entry of ``space.KNOWN`` (β at its initial values) and a list of functions issue 16
names as diverging in deep networks, prints the forward signal gain, the gradient gain and the
gradient's gain relative to the signal (per layer), each compounded over the probe's depth, the
verdict of the default bounds, and the probe's cost per candidate (best of ``--repeat``, after
one warm-up call, at ``--threads`` intra-op threads). This is the table the bounds in
``evaluator._signal.SignalBounds`` were calibrated on.

Last line: ``{"cpu": ..., "kernel_isa": ..., "threads": t, "depth": d, "width": w,
"ms_per_candidate": {"median": m, "max": x}, "known": n, "known_rejected": [names],
"bad_rejected": r, "bad": b}``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

from evaluator._c_target import describe_cpu
from evaluator._signal import DEPTH, SIGNAL_BOUNDS, WIDTH, signal_gains
from space import KNOWN, parse

BAD = ("x^2", "x^3", "exp(x)", "x + x^2", "x^2 + asinh(x)", "x^2 - x", "x*exp(x)", "sinh(x)", "cosh(x)",
       "x*abs(x)", "2*x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    rows = [(k.name, k.formula, True) for k in KNOWN] + [(f, f, False) for f in BAD]
    costs, known_rejected, bad_rejected = [], [], 0
    print(f"{'function':32s} {'signal':>8s} {'grad':>8s} {'rel':>8s} {'signal^L':>9s} {'rel^L':>9s}  verdict")
    for name, formula, known in rows:
        expr = parse(formula)
        signal_gains(expr)  # warm-up: compiling the function is not the probe's cost
        best = float("inf")
        for _ in range(args.repeat):
            began = time.perf_counter()
            gains = signal_gains(expr)
            best = min(best, time.perf_counter() - began)
        costs.append(best * 1e3)
        verdict = SIGNAL_BOUNDS.verdict(gains)
        if verdict is not None:
            if known:
                known_rejected.append(name)
            else:
                bad_rejected += 1
        rel = gains.relative_gradient_gain
        print(f"{name[:32]:32s} {gains.signal_gain:8.4g} {gains.gradient_gain:8.4g} {rel:8.4g} "
              f"{_power(gains.signal_gain):9.2g} {_power(rel):9.2g}  "
              f"{verdict[1].split(':')[0] if verdict else 'pass'}")
    print(json.dumps({**describe_cpu(), "threads": torch.get_num_threads(), "depth": DEPTH, "width": WIDTH,
                      "ms_per_candidate": {"median": round(statistics.median(costs), 2),
                                           "max": round(max(costs), 2)},
                      "known": len(KNOWN), "known_rejected": known_rejected,
                      "bad_rejected": bad_rejected, "bad": len(BAD)}))


def _power(gain: float) -> float:
    try:
        return float(gain) ** DEPTH
    except OverflowError:
        return float("inf")


if __name__ == "__main__":
    main()
