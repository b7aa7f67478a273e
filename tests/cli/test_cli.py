"""The command line, run as a user runs it: the installed console script in a subprocess."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ACTSEARCH = shutil.which("actsearch") or str(Path(sys.executable).parent / "actsearch")


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([ACTSEARCH, *args], capture_output=True, text=True, timeout=120, check=False)


def test_parse_json_reports_everything() -> None:
    result = run("parse", "x/(1+exp(-x))", "--json")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1
    info = json.loads(lines[0])
    assert info["expression"] == "x * sigmoid(x)"
    assert info["known_as"] == "SiLU"
    assert info["latex"] == "x \\sigma\\left(x\\right)"
    assert len(info["fingerprint"]) == 16
    assert info["properties"]["df0"] == pytest.approx(0.5, abs=1e-6)
    assert info["properties"]["smooth"] is True
    assert "exp" in info["canonical"]


def test_parse_reports_the_signal_propagation_gains() -> None:
    good = json.loads(run("parse", "max(x, 0)", "--json").stdout)["properties"]
    assert good["signal_gain"] == pytest.approx(1.0, abs=0.05) and good["signal_propagation"] == "passes"
    bad = run("parse", "x + x^2")
    assert bad.returncode == 0
    assert "signal_gain=Infinity" in bad.stdout and "signal explodes" in bad.stdout


def test_parse_human_output_names_the_known_function() -> None:
    result = run("parse", "max(x, 0)")
    assert result.returncode == 0
    assert "ReLU" in result.stdout and "relu(x)" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("parse", "x +* 2"), "column 4"),
        (("parse", "__import__(x)"), "unknown function '__import__'"),
        (("parse", "__import__('os')"), "unexpected character"),
        (("export", "x**99999999"), "too large"),
        (("export", "foo(x)", "--format", "torch"), "unknown function 'foo'"),
    ],
)
def test_bad_input_is_a_message_on_stderr_and_a_nonzero_exit(args: tuple[str, ...], message: str) -> None:
    result = run(*args)
    assert result.returncode == 2
    assert message in result.stderr
    assert result.stdout == ""


def test_unknown_format_is_rejected_by_the_argument_parser() -> None:
    result = run("export", "x", "--format", "onnx")
    assert result.returncode != 0 and "invalid choice" in result.stderr


def test_exported_torch_module_runs_in_a_fresh_process(tmp_path: Path) -> None:
    result = run("export", "x * sigmoid(beta * x)", "--format", "torch")
    assert result.returncode == 0
    path = tmp_path / "act.py"
    path.write_text(result.stdout)
    script = (
        "import importlib.util, torch\n"
        f"spec = importlib.util.spec_from_file_location('act', {str(path)!r})\n"
        "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)\n"
        "act = m.Activation(num_channels=3)\n"
        "x = torch.linspace(-4, 4, 12).reshape(4, 3)\n"
        "assert torch.allclose(act(x), torch.nn.functional.silu(x), atol=1e-6)\n"
        "print('ok')\n"
    )
    check = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert check.stdout.strip() == "ok", check.stderr


@pytest.mark.parametrize("fmt", ["function", "numpy", "jax", "latex", "sympy"])
def test_every_export_format_is_deterministic(fmt: str) -> None:
    first = run("export", "min(x, sin(x)) + beta_mix(x, tanh(x))", "--format", fmt)
    second = run("export", "min(x, sin(x)) + beta_mix(x, tanh(x))", "--format", fmt)
    assert first.returncode == 0 and first.stdout == second.stdout and first.stdout.strip()


def test_demo_runs() -> None:
    result = run("demo")
    assert result.returncode == 0, result.stderr
    assert "SiLU" in result.stdout and "class Activation" in result.stdout


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("parse", "-x*tanh(x)", "--json"), '"expression": "-x * tanh(x)"'),
        (("parse", "--json", "-min(-x,0)"), '"expression": "-min0(-x)"'),
        (("parse", "--json", "--", "-x"), '"expression": "-x"'),  # the usual escape still works
        (("export", "-x", "--format", "sympy"), "-x"),
        (("export", "--format", "numpy", "-x*sigmoid(x)"), "return (-x) * _sigmoid(x)"),
    ],
)
def test_an_expression_may_start_with_a_minus(args: tuple[str, ...], expected: str) -> None:
    result = run(*args)
    assert result.returncode == 0, result.stderr
    assert expected in result.stdout


def test_negative_numbers_are_left_to_argparse() -> None:
    from cli._argv import expression_positional

    # an option's value (--seeds -1 gets its own message) is not taken for the expression
    assert expression_positional(["evaluate", "x", "--seeds", "-1"]) == ["evaluate", "x", "--seeds", "-1"]
    assert expression_positional(["jobs", "-x"]) == ["jobs", "-x"]  # only commands that take an expression


def test_help_and_unknown_long_options_are_still_options() -> None:
    assert "usage: actsearch parse" in run("parse", "-h").stdout
    result = run("parse", "--jsn", "x")
    assert result.returncode == 2 and "unrecognized arguments: --jsn" in result.stderr
