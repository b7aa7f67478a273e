"""The executor protocol (the executors: worker/_in_process.py, worker/_ray.py; their shared
batching: worker/_batching.py; what they carry: worker/_request.py and worker/_result.py).

An executor turns :class:`EvalRequest`s (one candidate × one seed at one fidelity) into
``concurrent.futures.Future[EvalOutcome]``. Requests wait in a :class:`BatchQueue` and leave as
one batch — one ``evaluate_batch`` call, so one population run — once ``batch_size`` compatible
requests (same task, options, steps and device) wait, or ``linger`` seconds after the first one.
A batch leaves only when one of the executor's slots is free: requests keep joining it while
the workers are busy, and its time limit counts from when it starts, not from when it queued.

Whatever happens — an exception in ``evaluate_batch``, a time limit, a dead worker — a future
resolves to an outcome (``status="failed"`` with a ``reason``); ``future.result()`` never raises.
Only ``shutdown()`` *cancels* outstanding futures, so ``future.cancelled()`` tells a request that
was never evaluated (run it again later) from one that failed (store it).
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Protocol

from worker._request import EvalRequest
from worker._result import EvalOutcome

log = logging.getLogger(__name__)


EvaluateBatch = Callable[[Sequence[EvalRequest]], list[EvalOutcome]]


class Executor(Protocol):
    """Runs evaluations. ``capacity``: how many requests it can usefully hold in flight."""

    @property
    def capacity(self) -> int: ...

    def submit(self, request: EvalRequest) -> Future[EvalOutcome]: ...

    def shutdown(self) -> None: ...


def worker_id() -> str:
    """``host:pid``, plus ``:node_id`` inside a Ray process (ray is never imported here)."""
    ident = f"{socket.gethostname()}:{os.getpid()}"
    ray = sys.modules.get("ray")
    if ray is not None and ray.is_initialized():
        try:
            ident += f":{ray.get_runtime_context().get_node_id()}"
        except Exception:  # noqa: BLE001  (a driver mid-shutdown: the host and pid still say enough)
            pass
    return ident


def describe_exception(exc: BaseException) -> str:
    """``Type: message (at file:line in function)`` — the innermost frame is where it broke."""
    text = f"{type(exc).__name__}: {exc}"
    frames = traceback.extract_tb(exc.__traceback__)
    if frames:
        last = frames[-1]
        text += f" (at {Path(last.filename).name}:{last.lineno} in {last.name})"
    return text


def run_batch(evaluate_batch: EvaluateBatch, requests: Sequence[EvalRequest]) -> list[EvalOutcome]:
    """``evaluate_batch(requests)``, with an exception turned into failed outcomes (reason "error")."""
    began = time.perf_counter()
    try:
        return list(evaluate_batch(requests))
    except Exception as exc:
        detail = describe_exception(exc)
        log.warning("evaluate_batch failed on %d requests: %s", len(requests), detail)
        wall, where = time.perf_counter() - began, worker_id()
        return [EvalOutcome.failed(r, "error", detail, wall_time=wall, worker=where) for r in requests]
