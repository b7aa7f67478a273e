"""The confirm phase's estimate of the time left (worker._eta)."""

from __future__ import annotations

from worker._eta import ConfirmClock


def test_the_estimate_is_the_rate_so_far_times_what_is_left():
    clock = ConfirmClock(total=12, started=100.0, done_before=0)
    assert clock.progress(done=0, elapsed=130.0)["eta_seconds"] is None  # no rate before one finishes
    assert clock.progress(done=4, elapsed=140.0) == {"evaluations": 12, "done": 4, "eta_seconds": 80.0, "at": 140.0}
    assert clock.progress(done=12, elapsed=220.0)["eta_seconds"] == 0


def test_a_resumed_phase_counts_what_it_found_done_but_not_as_speed():
    clock = ConfirmClock(total=12, started=500.0, done_before=6)
    assert clock.progress(done=6, elapsed=510.0)["eta_seconds"] is None
    # 2 trained in 20 s since the resume: 4 left take 40 s (not 6 + 2 = 8 in 20 s)
    assert clock.progress(done=8, elapsed=520.0)["eta_seconds"] == 40.0
