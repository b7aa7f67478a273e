"""What `actsearch watch` and `submit --watch` print about a job's progress."""

from __future__ import annotations

from typing import Any

from cli._client import progress_line


def job(**changes: Any) -> dict[str, Any]:
    progress = {"candidates_done": 10, "candidates_budget": 10, "evaluations_done": 12, "rejected": 1, "failed": 0,
                "confirm_evaluations": None, "confirm_done": None, "confirm_eta_seconds": None}
    return {"id": 3, "status": "running", "phase": "search", "best_fitness": 0.8123, "elapsed_seconds": 41.6,
            "stop_reason": None, **changes, "progress": {**progress, **changes.pop("progress", {})}}


def test_the_search_line_has_no_confirm_part():
    assert progress_line(job()) == ("job 3 running search: 10/10 candidates, 12 evaluations (1 rejected, 0 failed), "
                                    "best 0.8123, 42s")


def test_the_confirm_phase_shows_its_count_and_time_left():
    counted = {"confirm_evaluations": 12, "confirm_done": 4}
    assert progress_line(job(phase="confirm", progress={**counted, "confirm_eta_seconds": 80.4})).endswith(
        "42s, confirm 4/12, ~80s left")
    assert progress_line(job(phase="confirm", progress=counted)).endswith("42s, confirm 4/12")  # no rate yet
    assert "confirm 4/12" not in progress_line(job(status="completed", phase=None, progress=counted))
