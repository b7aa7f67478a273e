"""An API process warms up in the background, then hides what it imported from the collector."""

from __future__ import annotations

import gc
import sys

from api.app import warm_up


def test_warm_up_imports_what_a_submission_needs_then_freezes_it() -> None:
    try:
        warm_up()
        assert "evaluator.tasks" in sys.modules and "search.controllers" in sys.modules
        assert gc.get_freeze_count() > 0  # a full collection no longer walks them
    finally:
        gc.unfreeze()
