"""Plug-ins named in ACTSEARCH_PLUGINS reach every process: the CLI and a fresh process that
evaluates as a Ray worker does. The plug-in is the example of docs/deploy.md, so the guide's
code is tested too."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from space import PluginError, load_plugins

ROOT = Path(__file__).parents[2]


@pytest.fixture
def plugin_env(tmp_path: Path) -> dict[str, str]:
    guide = (ROOT / "docs" / "deploy.md").read_text()
    code = re.search(r"```python\n(# myplugin\.py\n.*?)```", guide, re.S)
    assert code, "docs/deploy.md lost its plug-in example"
    (tmp_path / "myplugin.py").write_text(code.group(1))
    return {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{ROOT}", "ACTSEARCH_PLUGINS": "myplugin"}


def run(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)


def test_the_cli_knows_a_plugin_operator(plugin_env: dict[str, str]) -> None:
    done = run([sys.executable, "-m", "cli", "parse", "x*softsign2(x)", "--json"], plugin_env)
    assert done.returncode == 0, done.stderr
    assert "softsign2" in json.loads(done.stdout)["operators"]
    without = {k: v for k, v in plugin_env.items() if k != "ACTSEARCH_PLUGINS"}
    assert run([sys.executable, "-m", "cli", "parse", "x*softsign2(x)"], without).returncode != 0


def test_a_process_that_evaluates_like_a_ray_worker_loads_the_plugins(plugin_env: dict[str, str]) -> None:
    # A Ray worker process imports only what unpickling the call needs: worker._evaluate here.
    script = (
        "import json; from worker._evaluate import evaluate_batch; from worker import EvalRequest\n"
        "[o] = evaluate_batch([EvalRequest('k', 'x*softsign2(x)', 'toy-regression', {}, 0, 20, 'cpu')])\n"
        "print(json.dumps([o.status, o.reason, o.detail, o.fitness]))\n"
    )
    done = run([sys.executable, "-c", script], plugin_env)
    assert done.returncode == 0, done.stderr
    status, reason, detail, fitness = json.loads(done.stdout.splitlines()[-1])
    assert status in ("ok", "rejected"), (reason, detail)
    assert status == "rejected" or fitness is not None


def test_a_plugin_that_cannot_be_imported_is_named(plugin_env: dict[str, str]) -> None:
    done = run([sys.executable, "-m", "cli", "parse", "x"], {**plugin_env, "ACTSEARCH_PLUGINS": "myplugin, nosuch"})
    assert done.returncode == 2
    assert "ACTSEARCH_PLUGINS: cannot import 'nosuch': ModuleNotFoundError" in done.stderr
    with pytest.raises(PluginError, match="cannot import 'nosuch'"):
        load_plugins("nosuch")
    assert load_plugins("") == [] and load_plugins(" json , math ") == ["json", "math"]


def test_the_parse_endpoints_child_process_knows_a_plugin_operator(plugin_env: dict[str, str],
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    # POST /expressions/parse describes in a child process (api._analyze): a plug-in operator
    # that a job accepts must not be "unknown function" there.
    from api._analyze import AnalysisError, Analyzer

    for name in ("PYTHONPATH", "ACTSEARCH_PLUGINS"):
        monkeypatch.setenv(name, plugin_env[name])
    analyzer = Analyzer(time_limit=120)
    try:
        assert "softsign2" in analyzer.describe("x*softsign2(x)")["operators"]
    finally:
        analyzer.close()
    monkeypatch.delenv("ACTSEARCH_PLUGINS")
    without = Analyzer(time_limit=120)
    try:
        with pytest.raises(AnalysisError, match="softsign2"):
            without.describe("x*softsign2(x)")
    finally:
        without.close()
