"""``actsearch evaluate``, run as a user runs it: the installed console script in a subprocess."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cli import main
from tests.evaluator.test_tasks_vision import write_npz

ACTSEARCH = shutil.which("actsearch") or str(Path(sys.executable).parent / "actsearch")
# One intra-op thread: on a shared 2-core machine torch's spinning threads slow tiny nets ~20x.
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([ACTSEARCH, *args], capture_output=True, text=True, timeout=180, check=False, env=ENV)


def test_evaluate_json_is_one_object_with_per_seed_fitness() -> None:
    result = run("evaluate", "x*sigmoid(x)", "--task", "mnist1d-mlp", "--seeds", "2", "--steps", "50", "--json")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1
    report = json.loads(lines[0])
    assert report["expression"] == "x * sigmoid(x)" and report["task"] == "mnist1d-mlp"
    assert report["seeds"] == 2 and report["steps"] == report["steps_done"] == 50
    fitness = report["fitness"]
    assert fitness["status"] == "ok" and fitness["reason"] is None
    assert math.isfinite(fitness["mean"]) and 0.0 < fitness["mean"] <= 1.0 and fitness["std"] >= 0.0
    assert len(fitness["per_seed"]) == 2 and fitness["per_seed"] != [fitness["per_seed"][0]] * 2
    assert [r["seed"] for r in report["runs"]] == [0, 1]
    assert report["wall_time"] > 0 and report["steps_per_second"] > 0
    assert "50/50 steps" in result.stderr  # the progress bar's final line


def test_unknown_task_is_a_message_with_exit_2() -> None:
    result = run("evaluate", "x*sigmoid(x)", "--task", "no-such-task")
    assert result.returncode == 2
    assert "unknown task 'no-such-task'; known: " in result.stderr and "mnist1d-mlp" in result.stderr
    assert result.stdout == ""


# In-process from here: the same main(), without paying a torch import per case.


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("x +* 2", "--task", "mnist1d-mlp"), "column 4"),
        (("x", "--task", "mnist1d-mlp", "--seeds", "0"), "--seeds must be from 1 to 20 (a job's task.seeds), got 0"),
        (("x", "--task", "mnist1d-mlp", "--seeds", "100000"), "--seeds must be from 1 to 20"),
        (("x", "--task", "mnist1d-mlp", "--steps", "-5"), "--steps must be from 1 to 1,000,000"),
        (("x", "--task", "mnist1d-mlp", "--device", "nonsense"), "device 'nonsense' is not usable"),
        (("x", "--task", "npz", "--option", "path"), "--option must be KEY=VALUE, got 'path'"),
        (("x", "--task", "mnist1d-mlp", "--baseline", "relu(x"), "cannot parse baseline 'relu(x'"),
        (("x", "--task", "mnist1d-mlp", "--baseline", "default", "--baseline", "default", "--baseline", "x"),
         "at most 4 baselines"),
        (("x", "--task", "npz"), "bad options for task 'npz': missing a required argument: 'path'; its options: "
                                 "path, model='mlp', kind='auto'"),
        (("x", "--task", "mnist1d-mlp", "--option", "hiden=64"), "'hiden'; its options: hidden=128, depth=2"),
        (("x", "--task", "npz", "--option", "path=/no/such.npz"), "npz file '/no/such.npz' does not exist"),
        # the data is read when training starts (after the cheap checks): still a message, not a traceback
        (("relu(x)", "--task", "cifar10-resnet20", "--option", "path=/no/such/dir", "--steps", "1"),
         "CIFAR-10 directory '/no/such/dir' (directory does not exist)"),
    ],
)
def test_bad_input_is_a_message_with_exit_2(args: tuple[str, ...], message: str,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evaluate", *args]) == 2
    out, err = capsys.readouterr()
    assert message in err and out == ""


def test_evaluate_prints_a_readable_report(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evaluate", "x", "--task", "mnist1d-mlp", "--steps", "30"]) == 0  # affine: rejected untrained
    out, _ = capsys.readouterr()
    assert "rejected (affine)" in out and "per seed" in out and "wall time" in out


def test_task_options_reach_the_task(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # a user's own data set: the npz task needs its path (and takes a model kind) from --option
    data = write_npz(tmp_path / "mine.npz", x_train=np.random.default_rng(2).normal(size=(48, 1, 8, 8)),
                     x_val=np.random.default_rng(3).normal(size=(20, 1, 8, 8)))
    args = ["evaluate", "relu(x)", "--task", "npz", "--option", f"path={data}", "--option", "model=cnn",
            "--steps", "5", "--json"]
    assert main(args) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["fitness"]["status"] == "ok" and report["steps_done"] == 5
    assert main([*args, "--option", "model=transformer"]) == 2  # the last one wins
    assert "npz model must be one of mlp, cnn; got 'transformer'" in capsys.readouterr().err


def test_bf16_trains_under_autocast_close_to_fp32(capsys: pytest.CaptureFixture[str]) -> None:
    reports = {}
    for precision in ("fp32", "bf16"):
        args = ["evaluate", "x*sigmoid(x)", "--task", "mnist1d-mlp", "--steps", "30", "--precision", precision, "--json"]
        assert main(args) == 0
        reports[precision] = json.loads(capsys.readouterr().out)
    assert [reports[p]["precision"] for p in ("fp32", "bf16")] == ["fp32", "bf16"]
    fp32, bf16 = (reports[p]["runs"][0]["metrics"]["train_loss"] for p in ("fp32", "bf16"))
    assert bf16 != fp32 and bf16 == pytest.approx(fp32, rel=0.05)  # rounded differently, trained alike


def test_an_expression_may_start_with_a_minus(capsys: pytest.CaptureFixture[str]) -> None:
    # argparse took '-min(-x,0)' for an option and exited 2 ("the following arguments are required")
    assert main(["evaluate", "-min(-x,0)", "--task", "mnist1d-mlp", "--steps", "5", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["expression"] == "-min0(-x)"
    assert main(["evaluate", "--task", "mnist1d-mlp", "--steps", "5", "--json", "--", "-x*tanh(x)"]) == 0
    assert json.loads(capsys.readouterr().out)["expression"] == "-x * tanh(x)"


def test_baselines_train_in_the_same_population_and_are_compared(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["evaluate", "x*tanh(softplus(x))", "--task", "mnist1d-mlp", "--seeds", "2", "--steps", "40"]
    assert main([*args, "--baseline", "default", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    relu, silu = report["baselines"]
    assert (relu["name"], relu["expression"], silu["name"]) == ("ReLU", "relu(x)", "SiLU")
    assert [r["seed"] for r in report["runs"]] == [0, 1]  # the expression's own runs only
    for baseline in (relu, silu):
        assert baseline["fitness"]["status"] == "ok" and len(baseline["fitness"]["per_seed"]) == 2
        assert baseline["difference"] == pytest.approx(report["fitness"]["mean"] - baseline["fitness"]["mean"])
        assert baseline["spread"] >= 0
    # the same seeds train the same networks whether or not baselines share the population
    assert main([*args, "--json"]) == 0
    alone = json.loads(capsys.readouterr().out)
    assert alone["fitness"]["per_seed"] == pytest.approx(report["fitness"]["per_seed"], rel=1e-4)
    assert main(["evaluate", "relu(x)", "--task", "mnist1d-mlp", "--steps", "40", "--baseline", "x*sigmoid(x)"]) == 0
    out = capsys.readouterr().out
    assert "vs baselines" in out and " SiLU" in out
