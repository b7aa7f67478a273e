"""Fixtures shared by the evaluator's tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch


@pytest.fixture(scope="module")
def one_thread() -> Iterator[None]:
    """Train on one intra-op thread: these networks are tiny, one thread is faster, and two on a
    busy 2-core machine spin against each other (measured: 70x slower per step under contention)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
