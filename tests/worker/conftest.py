"""Fixtures shared by the worker's tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch

from worker._evaluate import THREADS_ENV


@pytest.fixture
def one_thread(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Real training on one intra-op thread, as a Ray worker with one CPU gets it
    (``$ACTSEARCH_TORCH_THREADS``): on a loaded 2-core machine torch's default of one per core
    made a 40-step population 8-25x slower (0.4 s against 3.6-10.7 s)."""
    before = torch.get_num_threads()
    monkeypatch.setenv(THREADS_ENV, "1")
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
