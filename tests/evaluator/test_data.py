"""The generated-data cache: made once per recipe, read back after, never fatal."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from evaluator._data import cached_arrays, standardize


def test_made_once_then_read_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACTSEARCH_CACHE", str(tmp_path))
    calls = []

    def make() -> dict[str, np.ndarray]:
        calls.append(1)
        return {"x": np.arange(5.0)}

    first = cached_arrays("demo", {"n": 5}, make)
    second = cached_arrays("demo", {"n": 5}, make)
    assert len(calls) == 1 and np.array_equal(first["x"], second["x"])
    cached_arrays("demo", {"n": 6}, make)  # another recipe is another file
    assert len(calls) == 2 and len(list(tmp_path.glob("demo-*.npz"))) == 2


def test_an_unwritable_cache_only_costs_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("ACTSEARCH_CACHE", str(blocker / "cache"))
    assert cached_arrays("demo", {}, lambda: {"x": np.ones(2)})["x"].tolist() == [1.0, 1.0]


def test_standardize_uses_training_statistics() -> None:
    train, other = standardize(np.array([[0.0], [2.0]]), np.array([[4.0]]))
    assert train.ravel().tolist() == pytest.approx([-1.0, 1.0], abs=1e-6)
    assert other.ravel().tolist() == pytest.approx([3.0], abs=1e-6)
