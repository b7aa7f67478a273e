"""The signal-propagation probe: the known-function library passes, functions that fail deep do not.

Measured gains (depth 32, width 256; ``python bench/signal_probe.py`` prints them all) — per layer,
signal / gradient / gradient relative to the signal:
ReLU 1.01 / 1.00 / 0.99, SiLU 0.52 / 0.53 / 1.02, GELU 0.59 / 0.60 / 1.03, tanh 0.98 / 1.10 / 1.11,
ELU 1.10 / 1.15 / 1.05, Mish 0.80 / 0.84 / 1.05, softplus 1.10 / 0.84 / 0.77, SELU 1.21 / 1.33 / 1.10,
GoLU 0.30 / 0.30 / 1.02 (the smallest usable signal), bent identity 2.47 / 2.45 / 0.99 (the largest),
Snake 2.02 / 3.00 / 1.48 (the largest relative gradient), Gaussian 1.00 / 0.72 / 0.72 (the smallest);
sigmoid 0.98 / 0.10 / 0.10; x², x³, x + x², x² + asinh x overflow (inf); exp 149 / 0.
"""

from __future__ import annotations

import dataclasses
import math

import pytest

from evaluator import (
    OK,
    REJECTED,
    SIGNAL_BOUNDS,
    Member,
    RejectionPolicy,
    SignalGains,
    get_task,
    signal_gains,
    train_population,
)
from space import KNOWN, parse

# Published functions that do not train as hidden activations of a deep plain network, each
# with the reason the probe gives and why that is right. Every other library entry must pass.
UNUSABLE_DEEP = {
    # sigmoid-shaped gates and bumps: saturating, derivative <= 1/4 (sigmoid), so the gradient
    # shrinks ~10x per layer while the signal holds — the vanishing gradient that made deep
    # sigmoid networks untrainable and that ReLU replaced (Glorot & Bengio 2010). They are
    # gates (LSTM, SE blocks, Swish's own sigmoid) and shallow-network activations.
    "Sigmoid": "gradient vanishes",
    "Hard sigmoid": "gradient vanishes",
    "Hard sigmoid (BinaryConnect)": "gradient vanishes",
    "Tempered sigmoid": "gradient vanishes",  # sigmoid at its initial s = T = 1, o = 1
    "APA": "gradient vanishes",  # its initial kappa = lambda = 1 is the sigmoid
    "dSiLU": "gradient vanishes",  # a sigmoid-shaped bump (SiLU's derivative), for shallow RL nets
    "Sinc": "gradient vanishes",  # a bump: its slope is 0 at 0 and decays
    # super-linear growth: the second moment grows faster than linearly per layer, so no
    # initialisation scale keeps it finite; overflow in float32 within 32 layers. Usable only
    # behind normalisation layers (Squared ReLU in Primer's normalised transformer blocks).
    "Quadratic": "signal explodes",
    "Cube": "signal explodes",
    "Squared ReLU": "signal explodes",
    "PolyReLU (order 3)": "signal explodes",  # relu + relu^2 + relu^3 at its initial coefficients 1
    "x * asinh(x)^2": "signal explodes",  # cubic at 0, x log^2 x in the tails
    "Soft exponential": "signal explodes",  # its initial alpha = 1 is exp(x)
    # quadratic at 0 (x tanh(gelu x) ~ x^2 / 2): a plain network's signal collapses to exactly 0
    "Phish": "signal dies",
}

# Issue 16's functions that win shallow tasks and diverge deep, and more of their kind.
BAD = ("x^2", "x^3", "exp(x)", "x + x^2", "x^2 + asinh(x)", "x^2 - x", "x*exp(x)", "cosh(x)", "x*abs(x)")

# tests/evaluator/conftest.py: the probe's 256-wide matrices and the trainings, one intra-op thread
pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.parametrize("known", KNOWN, ids=lambda k: k.name)
def test_the_known_library_passes_except_the_listed_unusable_functions(known) -> None:
    gains = signal_gains(known.expr)
    verdict = SIGNAL_BOUNDS.verdict(gains)
    if known.name in UNUSABLE_DEEP:
        assert verdict is not None, f"{known.name} passes: {gains.text()}; drop it from UNUSABLE_DEEP"
        assert verdict[1].startswith(UNUSABLE_DEEP[known.name])
    else:
        assert verdict is None, f"{known.name} ({known.formula}) rejected: {verdict}"


def test_the_unusable_list_names_only_library_entries() -> None:
    assert set(UNUSABLE_DEEP) <= {k.name for k in KNOWN}


@pytest.mark.parametrize("text", ["max(x, 0)", "x*sigmoid(x)", "gelu(x)", "tanh(x)", "elu(x)",
                                  "x*tanh(softplus(x))", "softplus(x)"])
def test_the_reference_activations_pass_with_margin(text: str) -> None:
    gains = signal_gains(parse(text))
    tight = dataclasses.replace(SIGNAL_BOUNDS, signal=(1e-12, 1e4), gradient=(1e-6, 1e6))
    assert tight.verdict(gains) is None, gains.text()  # 4+ decades inside the real bounds


def test_relu_is_the_he_reference() -> None:
    gains = signal_gains(parse("max(x, 0)"))
    # mean-field: He's 2/fan_in exactly compensates ReLU halving the second moment
    assert gains.signal_gain == pytest.approx(1.0, abs=0.03)
    assert gains.gradient_gain == pytest.approx(1.0, abs=0.03)


def test_the_gains_follow_mean_field_theory_for_linear_maps() -> None:
    # a*x under He: q grows by 2a^2 per layer, forward and backward alike
    for a, expected in ((0.5, 0.5), (1.0, 2.0)):
        gains = signal_gains(parse(f"{a}*x"))
        assert gains.signal_gain == pytest.approx(expected, rel=0.02)
        assert gains.gradient_gain == pytest.approx(expected, rel=0.02)


@pytest.mark.parametrize("text", BAD)
def test_functions_that_diverge_deep_are_rejected(text: str) -> None:
    gains = signal_gains(parse(text))
    verdict = SIGNAL_BOUNDS.verdict(gains)
    assert verdict is not None and verdict[0] == "signal_propagation"
    assert "signal explodes" in verdict[1] and "signal gain" in verdict[1] and "gradient gain" in verdict[1]


def test_a_saturating_gate_is_rejected_for_its_gradient() -> None:
    verdict = SIGNAL_BOUNDS.verdict(signal_gains(parse("sigmoid(x)")))
    assert verdict is not None and verdict[1].startswith("gradient vanishes")


def test_the_verdict_reads_the_bounds() -> None:
    ok = SignalGains(1.0, 1.0)
    assert SIGNAL_BOUNDS.verdict(ok) is None
    assert "signal explodes" in SIGNAL_BOUNDS.verdict(SignalGains(math.inf, math.inf))[1]  # type: ignore[index]
    assert "signal is not finite" in SIGNAL_BOUNDS.verdict(SignalGains(math.nan, math.nan))[1]  # type: ignore[index]
    assert "signal dies" in SIGNAL_BOUNDS.verdict(SignalGains(0.0, 0.0))[1]  # type: ignore[index]
    assert "gradient explodes" in SIGNAL_BOUNDS.verdict(SignalGains(1.0, 2.0))[1]  # type: ignore[index]
    assert SIGNAL_BOUNDS.verdict(SignalGains(0.5, 0.5)) is None  # uniform shrinking is scale, not death


def test_the_probe_is_deterministic() -> None:
    expr = parse("x*sigmoid(x) + 0.1*sin(x)")
    assert signal_gains(expr) == signal_gains(expr)


def test_beta_functions_are_probed_at_their_initial_beta() -> None:
    swish = parse("x*sigmoid(beta*x)")
    assert swish.param_inits() == {"beta": 1.0}
    assert signal_gains(swish) == signal_gains(parse("x*sigmoid(x)"))
    assert signal_gains(parse("x*sigmoid(2*x)")) != signal_gains(swish)
    # beta = 1 makes PReLU the identity: |x|-like gain 2 (a beta of 0.25 would be ReLU-like)
    assert signal_gains(parse("max(x, 0) + beta*min(x, 0)")).signal_gain == pytest.approx(2.0, rel=0.02)


@pytest.fixture(scope="module")
def task():
    return get_task("mnist1d-mlp")


def test_training_rejects_with_its_own_reason_and_the_gains(task) -> None:
    off = RejectionPolicy.off()
    policy = dataclasses.replace(off, signal_propagation=True)
    run = train_population(task, [Member(parse("x + x^2"), 0), Member(parse("x^2 + asinh(x)"), 1),
                                  Member(parse("max(x, 0)"), 0)], steps=5, policy=policy)
    for bad in run.results[:2]:
        assert (bad.status, bad.reason, bad.steps) == (REJECTED, "signal_propagation", 0)
        assert "signal gain inf/layer" in (bad.detail or "")
    assert run.results[2].status == OK and run.trained_members == 1


def test_the_switch_turns_the_check_off(task) -> None:
    run = train_population(task, [Member(parse("sigmoid(x)"), 0)], steps=5, policy=RejectionPolicy.off())
    assert run.results[0].status == OK
    on = dataclasses.replace(RejectionPolicy.off(), signal_propagation=True)
    assert train_population(task, [Member(parse("sigmoid(x)"), 0)], steps=5, policy=on).results[0].reason == (
        "signal_propagation")


def test_the_bench_prints_the_calibration_table_and_a_json_last_line() -> None:
    import json
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[2] / "bench" / "signal_probe.py"
    result = subprocess.run([sys.executable, str(script), "--repeat", "1"], capture_output=True, text=True,
                            timeout=600, check=True)
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(report["known_rejected"]) == set(UNUSABLE_DEEP)
    assert report["bad_rejected"] == report["bad"] > 0
    assert report["depth"] == 32 and report["ms_per_candidate"]["median"] > 0 and report["cpu"]


def test_a_constant_function_has_no_gradient_gain() -> None:
    # `actsearch parse -1.5` crashed: a constant activation cuts the autograd graph
    gains = signal_gains(parse("-1.5"))
    assert gains.gradient_gain == 0.0
