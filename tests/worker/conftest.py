"""Fixtures shared by the worker's tests."""

from __future__ import annotations

import logging
import sys
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


@pytest.fixture(scope="package")
def _ray_stopped_at_the_end() -> Iterator[None]:
    yield
    ray = sys.modules.get("ray")
    if ray is not None:
        ray.shutdown()


@pytest.fixture
def ray_local(_ray_stopped_at_the_end: None) -> None:
    """A local Ray cluster with 2 CPUs in this process, started by the first test that asks for
    it and kept for the next ones (test_executor.py, test_executor_ray.py): a start costs
    3.6-4.6 s and a stop 1.3 s on a loaded 2-core machine. Stopped at the end of the package, or
    by a test that starts a fresh one of its own (test_runner_crash.py); started again after that."""
    import ray

    if not ray.is_initialized():
        ray.init(num_cpus=2, include_dashboard=False, logging_level=logging.WARNING)
