"""Fixtures shared by the evaluator's tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import torch


@contextmanager
def one_intra_op_thread() -> Iterator[None]:
    """Train on one intra-op thread: these networks are tiny, one thread is faster, and two on a
    busy 2-core machine spin against each other (measured: 70x slower per step under contention)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@pytest.fixture(scope="module")
def one_thread() -> Iterator[None]:
    """:func:`one_intra_op_thread` for a whole module."""
    with one_intra_op_thread():
        yield


@pytest.fixture
def training_thread() -> Iterator[None]:
    """:func:`one_intra_op_thread` for one test, in a module whose other tests keep torch's
    default (the kernel tests of test_fused.py)."""
    with one_intra_op_thread():
        yield
