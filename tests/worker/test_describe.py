"""Candidate descriptions: cheap fields at proposal, slow ones from the describer process."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import store
from space import canonical_text, parse, properties, torch_source
from worker import _describe
from worker._describe import Describer, describe, slow_description


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


@pytest.fixture
def described_store(tmp_path: Path):
    """A store, and a function that adds a candidate of an expression to a new job there."""
    database = store.connect(f"sqlite:///{tmp_path / 'store.db'}")

    def add(*texts: str) -> list[tuple[int, object]]:
        with database.session() as session:
            job = store.create_job(session=session, name="d", owner="o", spec={})
            rows = [store.add_candidate(session=session, job_id=job.id, **describe(parse(t))) for t in texts]
            return [(row.id, row.expr_json) for row in rows]

    yield database, add
    database.dispose()


def _canonical(database: store.Database, candidate_id: int) -> str:
    with database.session() as session:
        candidate = store.get_candidate(session=session, candidate_id=candidate_id)
        assert candidate is not None
        return candidate.canonical


def _child_pid() -> int:
    child = _describe._PROCESS._child
    assert child is not None and child._process is not None
    return child._process.pid


def test_jobs_share_one_describer_process_and_each_waits_for_its_own(described_store):
    """Importing sympy and torch in the child takes seconds: a short job waited for that at its
    end, every job again. Jobs of one process share the child; a cancelled job's requests are
    dropped without killing it, and the other job's descriptions all land."""
    database, add = described_store
    first, second = add("x*tanh(x)", "max(x, sin(x))"), add("x*sigmoid(x)", "tanh(x) + x", "relu(x)*x")
    cancelled, finishing = Describer(database, active=lambda: True), Describer(database, active=lambda: True)
    for candidate_id, expr_json in first:
        cancelled.submit(candidate_id, expr_json)
    pid = _child_pid()
    for candidate_id, expr_json in second:
        finishing.submit(candidate_id, expr_json)
    cancelled.close(wait=False)
    finishing.close(wait=True)
    assert [_canonical(database, i) for i, _ in second] == [
        canonical_text(parse(t)) for t in ("x*sigmoid(x)", "tanh(x) + x", "relu(x)*x")]
    later = Describer(database, active=lambda: True)
    (candidate_id, expr_json), = add("sin(x)*x")
    later.submit(candidate_id, expr_json)
    later.close(wait=True)
    assert _canonical(database, candidate_id) == canonical_text(parse("sin(x)*x"))
    assert _child_pid() == pid  # one child for all three


def test_a_describer_process_that_dies_costs_only_what_it_had_not_answered(described_store):
    database, add = described_store
    describer = Describer(database, active=lambda: True)
    (before, expr_json), = add("x*tanh(x)")
    describer.submit(before, expr_json)
    describer.close(wait=True)
    pid = _child_pid()
    (lost, lost_json), = add("max(x, tanh(x))*x")
    describer.submit(lost, lost_json)
    os.kill(pid, signal.SIGKILL)
    describer.close(wait=True)  # returns: the request is answered or known lost, never awaited forever
    (after, after_json), = add("x*sigmoid(x)")
    describer.submit(after, after_json)
    describer.close(wait=True)
    assert _canonical(database, before) and _canonical(database, after) == canonical_text(parse("x*sigmoid(x)"))
    assert _child_pid() != pid  # a new child after the kill
