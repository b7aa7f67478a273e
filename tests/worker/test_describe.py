"""Candidate descriptions: cheap fields at proposal, slow ones from the describer process."""

from __future__ import annotations

import json
import math
import subprocess
import sys

from space import canonical_text, parse, properties, torch_source
from worker._describe import describe, slow_description


def test_the_cheap_description_leaves_the_slow_fields_empty():
    row = describe(parse("x*sigmoid(x)"))
    assert row["known_as"] == "SiLU" and row["latex"] and len(row["fingerprint"]) == 16
    assert row["canonical"] == "" and row["torch_source"] == "" and row["properties"] == {}


def test_the_slow_description_matches_the_compiler():
    expr = parse("max(x, sin(x))")
    out = slow_description(expr.to_json())
    assert out["canonical"] == canonical_text(expr)
    assert out["torch_source"] == torch_source(expr)  # the stored source is what was evaluated
    shape = properties(expr).to_json()
    assert {k: out["properties"][k] for k in shape} == shape


def test_every_description_carries_the_signal_propagation_gains():
    out = slow_description(parse("max(x, 0)").to_json())["properties"]
    assert set(out) >= {"signal_gain", "gradient_gain"}
    assert abs(out["signal_gain"] - 1.0) < 0.05 and abs(out["gradient_gain"] - 1.0) < 0.05  # ReLU under He
    exploding = slow_description(parse("x + x^2").to_json())["properties"]
    assert exploding["signal_gain"] == math.inf  # stored, so the leaderboard shows why it failed


def test_the_describer_process_answers_line_by_line_and_survives_a_pathological_expression():
    deep = parse("sin(" * 39 + "x" + ")" * 39)
    requests = [{"id": 1, "expr": deep.to_json()}, {"id": 2, "expr": parse("x*tanh(x)").to_json()}]
    code = "import worker._describe as d; d.DESCRIBE_SECONDS = 2.0; d.serve()"
    result = subprocess.run([sys.executable, "-c", code], input="".join(json.dumps(r) + "\n" for r in requests),
                            capture_output=True, text=True, timeout=120)
    answers = [json.loads(line) for line in result.stdout.splitlines()]
    assert [a["id"] for a in answers] == [1, 2]
    assert answers[0]["description"]["canonical"]  # a fallback, not a hang
    assert answers[1]["description"]["canonical"] == canonical_text(parse("x*tanh(x)"))
    assert "signal_gain" in answers[0]["description"]["properties"]  # the fallback still measures the gains


def test_the_describer_child_imports_sympy_and_torch_before_it_times_requests():
    # An alarm inside a first import leaves a half-loaded module, and the fallback answer then
    # failed importing it again ("cannot import name 'signal_gains'"), seen on a loaded machine.
    code = ("import json, sys; import worker._describe as d; "
            "d.serve_requests = lambda *a, **k: print(json.dumps([m in sys.modules for m in ('sympy', 'torch')])); "
            "d.serve()")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout.splitlines()[-1]) == [True, True]
