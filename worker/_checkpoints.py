"""Checkpoints of short multi-fidelity runs, kept on this machine's disk until promoted.

ASHA promotes a candidate once its result is in the top 1/eta of its rung: maybe minutes later,
and in whichever worker process of this machine gets the request, so the training state is a
file, not process memory. A file is named by everything that determines the state (task and
options, expression, seed, steps trained, schedule horizon, precision); a promoted run takes
it (deleted once read). Files that are never promoted are evicted oldest first past a size
cap. A request that finds no file (another machine trained the rung, the file was evicted, a
crash) trains from scratch to the same result, since resuming equals training straight through.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from worker._request import EvalRequest

if TYPE_CHECKING:
    from evaluator import Checkpoint, Member

log = logging.getLogger(__name__)

DIR_ENV = "ACTSEARCH_CHECKPOINTS"
MAX_BYTES_ENV = "ACTSEARCH_CHECKPOINT_BYTES"
MAX_BYTES = 1 << 30  # mnist1d-mlp: 0.27 MB a member (weights + AdamW moments); ResNet-20: 3.2 MB


def checkpoint_dir() -> Path:
    """``$ACTSEARCH_CHECKPOINTS``, or ``checkpoints`` in the evaluator's data cache."""
    from evaluator import cache_dir

    return Path(os.environ.get(DIR_ENV) or cache_dir() / "checkpoints")


def _path(request: EvalRequest, steps: int) -> Path:
    what = [request.task, request.task_options, request.expression, request.seed, steps, request.horizon,
            request.precision]
    digest = hashlib.sha256(json.dumps(what, sort_keys=True).encode()).hexdigest()[:32]
    return checkpoint_dir() / f"{digest}.pt"


def save(request: EvalRequest, checkpoint: Checkpoint) -> None:
    """Keeps ``checkpoint`` (of ``request``'s member, at ``checkpoint.step``) for a promotion.
    A checkpoint is a saving, not a result: a full or read-only disk is a warning."""
    import torch

    path = _path(request, checkpoint.step)
    partial = path.with_name(f"{path.name}.{uuid.uuid4().hex}.partial")
    data = {"step": checkpoint.step, "horizon": checkpoint.horizon, "state": checkpoint.state,
            "losses": list(checkpoint.losses)}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(data, partial)
        partial.replace(path)  # atomic: a reader sees the whole file or none
        _evict(path.parent, _max_bytes())
    except (OSError, RuntimeError) as exc:  # torch.save reports a failed write as RuntimeError
        log.warning("could not keep a checkpoint in %s (%s); a promotion will train from scratch",
                    path.parent, exc)
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)


def take(request: EvalRequest, steps: int, member: Member) -> Checkpoint | None:
    """The checkpoint ``request``'s member left at ``steps``, removed from disk; None if there
    is none (or it cannot be read: then it is deleted and the run starts over)."""
    import torch

    from evaluator import Checkpoint

    path = _path(request, steps)
    try:
        data: dict[str, Any] = torch.load(path, weights_only=True)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except Exception as exc:  # noqa: BLE001 — a torn or foreign file: train from scratch
        log.warning("unreadable checkpoint %s (%s); training from scratch", path.name, exc)
        data = {}
    try:
        path.unlink(missing_ok=True)  # another process may have taken it a moment ago
    except OSError:
        log.warning("could not delete the used checkpoint %s", path)
    if data.get("step") != steps or data.get("horizon") != request.horizon:
        return None
    return Checkpoint(member, steps, data["horizon"], data["state"], list(data["losses"]))


def _max_bytes() -> int:
    value = os.environ.get(MAX_BYTES_ENV)
    return int(value) if value else MAX_BYTES


def _evict(folder: Path, limit: int) -> None:
    files = []
    for path in folder.glob("*.pt"):
        try:
            stat = path.stat()
        except FileNotFoundError:  # taken meanwhile
            continue
        files.append((stat.st_mtime, stat.st_size, path))
    total = sum(size for _, size, _ in files)
    for _, size, path in sorted(files):
        if total <= limit:
            break
        path.unlink(missing_ok=True)
        total -= size
