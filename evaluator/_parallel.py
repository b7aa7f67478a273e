"""A CPU population split across worker processes: one part per core, one intra-op thread each.

Why: on small tensors PyTorch's intra-op threads cost more than they share — every operator
ends in a synchronisation of the threads. Measured on 2 cores (``mnist1d-mlp``, the task's
batch): one process training 32 members with 2 threads took 8.2–9.9 ms per step; two processes
training 16 members each with one thread, side by side, 7.1–7.7 ms. Members are independent
(own weights, batches, rejections and checkpoints), so a part trains as it would inside the
whole population, within float rounding.

Workers are ``python -m evaluator._worker`` children started on first use and kept for the
life of this process (each loads a task's data once). They are plain subprocesses, not
``multiprocessing``: its ``spawn`` re-imports the caller's ``__main__``, which re-runs a script
that lacks an ``if __name__ == "__main__"`` guard. Requests carry this process's
``ACTSEARCH_*`` settings. Anything that stops a part from training elsewhere — a task or
operator the worker cannot import, a worker that dies — trains the population here instead,
with a warning; an exception the training itself raises is raised here, as it would be.
"""

from __future__ import annotations

import atexit
import logging
import os
import pickle
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from typing import IO, TYPE_CHECKING, Any

import torch

from evaluator._members import Checkpoint, Member, PopulationRun

if TYPE_CHECKING:
    from evaluator._task import Task

PROCESSES_ENV = "ACTSEARCH_POPULATION_PROCESSES"
MIN_MEMBERS_PER_PROCESS = 8  # below this a part's batched kernels lose more than the split gains
log = logging.getLogger(__name__)


class WorkerUnavailable(Exception):
    """A part could not train in a worker (not an error of the training itself)."""


def processes_for(members: int, device: torch.device) -> int:
    """How many processes train a population of ``members`` on ``device``:
    ``$ACTSEARCH_POPULATION_PROCESSES`` or PyTorch's intra-op thread count, at most one per
    ``MIN_MEMBERS_PER_PROCESS`` members; 1 off the CPU."""
    raw = os.environ.get(PROCESSES_ENV, "").strip()
    if raw:
        try:
            wanted = int(raw)
        except ValueError:
            raise ValueError(f"{PROCESSES_ENV} must be a whole number of processes, got {raw!r}") from None
        if wanted < 1:
            raise ValueError(f"{PROCESSES_ENV} must be at least 1, got {wanted}")
    else:
        wanted = torch.get_num_threads()
    if device.type != "cpu":
        return 1
    return max(1, min(wanted, members // MIN_MEMBERS_PER_PROCESS))


def train_split(task: Task, members: Sequence[Member], resume: Sequence[Checkpoint] | None, processes: int,
                options: dict[str, Any]) -> PopulationRun | None:
    """The population trained as ``processes`` parts side by side, results in member order;
    None where the parts cannot train in workers (the caller trains the population itself)."""
    items: Sequence[Any] = resume if resume is not None else members
    bounds = [round(i * len(items) / processes) for i in range(processes + 1)]
    slices = [list(items[lo:hi]) for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)]
    # each part as train_population takes it: (members, checkpoints to resume or None)
    parts = [([], part) if resume is not None else (part, None) for part in slices]
    settings = {k: v for k, v in os.environ.items() if k.startswith("ACTSEARCH_")}
    try:
        requests = [pickle.dumps((task, *part, options, settings)) for part in parts]
    except Exception as exc:  # e.g. a task class defined inside a function
        log.warning("training the population in one process: it cannot be sent to a worker (%s)", exc)
        return None
    began = time.perf_counter()
    workers: list[_Worker] = []
    try:
        workers = _check_out(processes)
        for worker, request in zip(workers, requests, strict=True):
            worker.send(request)
        runs: list[PopulationRun] = [worker.receive() for worker in workers]
    except WorkerUnavailable as exc:
        log.warning("training the population in one process: %s", exc)
        _stop(workers)  # a worker may still hold a part: start fresh ones next time
        return None
    except BaseException:  # a part raised: the others' answers are still on their way
        _stop(workers)
        raise
    _check_in(workers)
    wall = time.perf_counter() - began
    trained = sum(r.trained_members for r in runs)
    results = [result for run in runs for result in run.results]
    for result in results:
        if result.wall_time > 0:  # trained: its share of the whole population's time
            result.wall_time = wall / trained
    return PopulationRun(results, [c for run in runs for c in run.checkpoints], wall, trained)


class _Worker:
    """One ``python -m evaluator._worker`` child; frames are an 8-byte length and a pickle."""

    def __init__(self) -> None:
        env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
               "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}  # the modules this process sees
        try:
            self.proc = subprocess.Popen([sys.executable, "-m", "evaluator._worker"], stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, env=env)
        except OSError as exc:  # no processes left, a read-only interpreter path…
            raise WorkerUnavailable(f"cannot start a population worker ({exc})") from exc

    def alive(self) -> bool:
        return self.proc.poll() is None

    def send(self, payload: bytes) -> None:
        assert self.proc.stdin is not None
        try:
            write_frame(self.proc.stdin, payload)
        except OSError as exc:
            raise WorkerUnavailable(f"a population worker is gone ({exc})") from exc

    def receive(self) -> Any:
        assert self.proc.stdout is not None
        frame = read_frame(self.proc.stdout)
        if frame is None:
            raise WorkerUnavailable(f"a population worker exited (status {self.proc.wait()})")
        status, value = pickle.loads(frame)
        if status == "unavailable":
            raise WorkerUnavailable(value)
        if status == "raised":
            raise value
        return value

    def stop(self) -> None:
        if self.alive():
            self.proc.kill()
        self.proc.wait()


def write_frame(stream: IO[bytes], payload: bytes) -> None:
    stream.write(struct.pack("<Q", len(payload)) + payload)
    stream.flush()


def read_frame(stream: IO[bytes]) -> bytes | None:
    """The next frame, or None at the end of the stream."""
    head = stream.read(8)
    if len(head) < 8:
        return None
    (size,) = struct.unpack("<Q", head)
    body = stream.read(size)
    return body if len(body) == size else None


_IDLE: list[_Worker] = []  # started and waiting; a caller checks workers out, so callers on
_LOCK = threading.Lock()    # several threads never write to the same worker


def _check_out(count: int) -> list[_Worker]:
    with _LOCK:
        _IDLE[:] = [w for w in _IDLE if w.alive()]
        taken = [_IDLE.pop() for _ in range(min(count, len(_IDLE)))]
    try:
        while len(taken) < count:
            taken.append(_Worker())
    except WorkerUnavailable:
        _stop(taken)
        raise
    return taken


def _check_in(workers: Sequence[_Worker]) -> None:
    with _LOCK:
        _IDLE.extend(workers)


def _stop(workers: Sequence[_Worker]) -> None:
    for worker in workers:
        worker.stop()


@atexit.register
def _stop_all() -> None:
    with _LOCK:
        idle = list(_IDLE)
        _IDLE.clear()
    _stop(idle)
