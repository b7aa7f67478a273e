"""The evaluator's benchmarks run as a user runs them and end with one JSON object.

Tiny budgets: these check that each script works (a crash after minutes of training is what
they catch), not the numbers, which live in the README.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from evaluator import _c_target

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}


def last_json(script: str, *args: str) -> dict[str, Any]:
    result = subprocess.run([sys.executable, str(ROOT / "bench" / script), *args], capture_output=True,
                            text=True, timeout=300, check=False, env=ENV, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    report: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return report


def test_eval_throughput_reports_both_rates_and_their_ratio() -> None:
    report = last_json("eval_throughput.py", "--k", "4", "--steps", "20", "--single", "2")
    assert report["k"] == 4 and report["batched_ok"] == 4
    assert report["kernel_isa"] == _c_target.kernel_isa() and report["cpu"] == _c_target.cpu_model()
    assert report["single_per_hour"] > 0 and report["batched_per_hour"] > 0
    assert report["ratio"] == pytest.approx(report["batched_per_hour"] / report["single_per_hour"], rel=0.02)


def test_step_time_reports_every_population_size() -> None:
    report = last_json("step_time.py", "--task", "mnist1d-mlp", "--k", "1", "--k", "3", "--steps", "3",
                       "--device", "cpu")
    assert report["kernel_isa"] == _c_target.kernel_isa() and report["cpu"] == _c_target.cpu_model()
    assert [(row["task"], row["k"]) for row in report["rows"]] == [("mnist1d-mlp", 1), ("mnist1d-mlp", 3)]
    assert all(row["ms_per_step"] > 0 for row in report["rows"])


def test_compile_overhead_compares_the_c_kernels_and_inductor() -> None:
    report = last_json("compile_overhead.py", "--repeats", "1", "--inner", "1", "--population", "1")
    assert report["kernel_isa"] == _c_target.kernel_isa()
    assert {"silu", "gelu_c_kernel", "mish_c_kernel"} <= set(report["ratios"])
    assert all(ratio > 0 for ratio in report["ratios"].values())
    inductor = report["inductor"]
    assert inductor["candidates"] == 1 and inductor["ours_compile_s"] > 0 and inductor["inductor_step_ms"] > 0


def test_rejection_cost_retrains_what_it_rejected() -> None:
    report = last_json("rejection_cost.py", "--n", "6", "--steps", "30")
    assert report["candidates"] == 6 and report["ok"] + report["rejected"] <= 6
    rows = report["rejected_trained_fully"]
    assert len(rows) == report["rejected_in_training"] >= 1  # seed 0 draws a gradient explosion
    assert all(row["reason"] in report["by_reason"] for row in rows)
    reaching = [r for r in rows if r["full_fitness"] is not None and r["full_fitness"] >= report["accepted_median"]]
    assert report["false_rejections"] == len(reaching)


@pytest.mark.parametrize("task", ["digits-cnn", "periodic-extrapolation"])
def test_fitness_fidelity_on_a_classification_and_a_regression_task(task: str) -> None:
    # the regression task has no validation loss beside its fitness: no second correlation
    report = last_json("fitness_fidelity.py", "--task", task, "--random", "1", "--steps", "4", "--multiplier", "2",
                       "--bf16")
    assert report["functions"] == 21 and -1 <= report["seed_spearman"] <= 1
    assert (report["seed_spearman_loss"] is None) == (task == "periodic-extrapolation")
    assert -1 <= report["bf16_spearman"] <= 1


def test_rung_fidelity_compares_both_schedules_at_every_lower_rung() -> None:
    report = last_json("rung_fidelity.py", "--random", "1", "--steps", "12", "--rungs", "4", "--rungs", "8")
    assert report["functions"] == 21 and report["rungs"] == [4, 8]
    for key in ("stretch_spearman", "short_spearman"):
        assert len(report[key]) == 2 and all(-1 <= rho <= 1 for rho in report[key])
    assert all(1 <= rank <= 21 for rank in report["stretch_worst_rank_of_top"] + report["short_worst_rank_of_top"])
