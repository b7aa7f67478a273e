"""Data helpers: a disk cache for procedurally generated data sets and standardisation."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np


def cache_dir() -> Path:
    """``$ACTSEARCH_CACHE`` or ``~/.cache/actsearch``: generated data, never downloads."""
    root = os.environ.get("ACTSEARCH_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "actsearch")
    return Path(root)


def cached_arrays(name: str, recipe: Mapping[str, object], make: Callable[[], dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """``make()`` once per recipe, then read back from an ``.npz`` in :func:`cache_dir`.

    Generating MNIST-1D's 25,000 sequences takes about 7 s; every worker process would pay it.
    The file name carries a hash of the recipe, so a changed recipe never reads stale data.
    """
    key = hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:16]
    path = cache_dir() / f"{name}-{key}.npz"
    if path.exists():
        with np.load(path) as data:
            return {k: data[k] for k in data.files}
    arrays = make()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp.npz")
        np.savez_compressed(tmp, **arrays)  # type: ignore[arg-type]
        os.replace(tmp, path)  # atomic: concurrent workers never read a half-written file
    except OSError as exc:  # a read-only home must not stop training, only slow the next start
        logging.getLogger(__name__).warning("cannot cache %s in %s: %s", name, path.parent, exc)
    return arrays


def standardize(train: np.ndarray, *others: np.ndarray) -> list[np.ndarray]:
    """Scale every array by the training set's per-feature mean and std."""
    mean = train.mean(axis=0, keepdims=True)
    std = train.std(axis=0, keepdims=True) + 1e-8
    return [((a - mean) / std).astype(np.float32) for a in (train, *others)]
