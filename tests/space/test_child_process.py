"""space.ChildProcess and serve_requests: the sympy child of the parse endpoint and the runner."""

from __future__ import annotations

from pathlib import Path

import pytest

from space import ChildProcess

# A child that sleeps when asked to; with ECHO_LIMIT it has a time limit and a fallback answer
# (and, as the runner's describer, no ready line).
CHILD = '''
import os, time
from space import serve_requests

def answer(request):
    time.sleep(request.get("sleep", 0))
    return {"echo": request["n"]}

limit = float(os.environ.get("ECHO_LIMIT", "0")) or None
serve_requests(answer, time_limit=limit, timed_out=lambda request: {"fallback": request["n"]},
               warm_up=None if limit else lambda: None)
'''


@pytest.fixture
def child_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    (tmp_path / "echo_child.py").write_text(CHILD)
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    return "echo_child"


def test_an_overrunning_request_is_none_and_the_next_one_gets_a_new_child(child_module: str) -> None:
    child = ChildProcess(child_module, startup_seconds=60)
    try:
        assert child.ask({"n": 1}, timeout=30) == {"echo": 1}
        assert child.ask({"n": 2, "sleep": 30}, timeout=0.5) is None  # killed, not waited for
        assert child.ask({"n": 3}, timeout=30) == {"echo": 3}
    finally:
        child.close(wait=False)


def test_the_childs_time_limit_gives_the_fallback_and_it_goes_on(child_module: str,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ECHO_LIMIT", "0.5")
    child = ChildProcess(child_module)
    assert child.send({"n": 1, "sleep": 30}) and child.send({"n": 2})
    answers = child.answers()
    assert [next(answers), next(answers)] == [{"fallback": 1}, {"echo": 2}]
    child.close(wait=True)
    assert list(answers) == []  # it exits at the end of its input
