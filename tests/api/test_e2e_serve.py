"""End to end, as a user meets the product: ``actsearch serve`` started as a real process (API,
embedded runner, SQLite), a job submitted over HTTP, its event stream followed to the end, the
leaderboard read, and the best function's torch export imported in a fresh Python process."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from api.client import Client
from tests.api.test_api_serve import ACTSEARCH, Served

SPEC = {
    "name": "e2e",
    "space": {"unary": ["x", "neg", "sigmoid", "tanh", "sin", "relu"], "binary": ["add", "mul", "max"]},
    "controller": {"kind": "evolution", "params": {"population": 4, "tournament": 2}},
    "task": {"name": "mnist1d-mlp", "seeds": 1, "steps": 40},
    "budget": {"candidates": 6},
    "confirm": {"top_k": 2, "seeds": 2},
}


def test_serve_runs_a_submitted_job_and_exports_a_working_module(tmp_path: Path) -> None:
    served = Served(f"sqlite:///{tmp_path / 'e2e.db'}", runner=True)
    try:
        url, token = served.wait_for(r"(http://127\.0\.0\.1:\d+)/\?token=(\S+)", timeout=120).groups()
        served.healthy()
        with Client(url, token, timeout=60) as client:
            job = client.submit(SPEC)
            kinds = [event["event"] for event in client.events(job["id"])]  # ends when the job does
            final = client.job(job["id"])
            board = client.leaderboard(job["id"], limit=10)
            best = board["data"][0]
            source = client.export(best["candidate_id"], "torch")
    finally:
        assert served.stop() == 0

    assert final["status"] == "completed", final
    assert {"status", "proposed", "evaluation", "candidate", "confirm"} <= set(kinds)
    # the 6 candidates and the baselines (ReLU and SiLU by default; one is the same row if the
    # search proposed it), confirmed beside the top 2
    baselines = {b["candidate_id"]: b["name"] for b in final["summary"]["baselines"]}
    assert sorted(baselines.values()) == ["ReLU", "SiLU"]
    assert board["count"] in (6 + 1, 6 + 2)
    rows = {row["candidate_id"]: row for row in board["data"]}
    assert all(rows[b]["confirmed_seeds"] == 2 for b in baselines)
    assert best["confirmed_seeds"] == 2 and best["confirmed_mean"] is not None
    module = tmp_path / "best_activation.py"
    module.write_text(source)
    check = textwrap.dedent(f"""
        import json, sys, torch
        sys.path.insert(0, {str(tmp_path)!r})
        from best_activation import Activation
        act = Activation(num_channels=3)
        x = torch.linspace(-3, 3, 12).reshape(4, 3).requires_grad_()
        y = act(x)
        y.sum().backward()
        print(json.dumps({{"shape": list(y.shape), "finite": bool(torch.isfinite(x.grad).all())}}))
    """)
    result = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[-1]) == {"shape": [4, 3], "finite": True}
    assert Path(ACTSEARCH).exists()
