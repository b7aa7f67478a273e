"""The confirm phase's progress and its estimate of the time left.

The search's ETA follows from the job's counters (candidates done against the budget); the
confirm phase trains a number of evaluations the job row does not count, so the runner keeps its
own tally and saves it in the job's summary (``summary["confirm"]``), where the API reads it.
The rate is measured since this run of the phase began: evaluations a resumed job finds already
done count as done but not as speed.

Example:
    >>> clock = ConfirmClock(total=12, started=100.0, done_before=0)
    >>> clock.progress(done=4, elapsed=140.0)
    {'evaluations': 12, 'done': 4, 'eta_seconds': 80.0, 'at': 140.0}
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ConfirmClock:
    total: int  # evaluations (one per seed) the phase trains
    started: float  # the job's elapsed seconds when this run of the phase began
    done_before: int  # evaluations already done then (a resumed job's)

    def progress(self, done: int, elapsed: float) -> dict[str, Any]:
        """What the job's summary keeps: evaluations, done, the seconds left as estimated at
        ``at`` (the job's elapsed seconds then; None until one evaluation finished here)."""
        finished, spent = done - self.done_before, elapsed - self.started
        eta = (self.total - done) * spent / finished if finished > 0 and spent > 0 else None
        return {"evaluations": self.total, "done": done, "eta_seconds": None if eta is None else round(eta, 1),
                "at": round(elapsed, 3)}
