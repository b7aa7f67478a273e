"""The production executor: each batch is one Ray task, on a local Ray or a cluster.

Why tasks (with ``max_calls=0``) rather than long-lived actors:

* Ray retries a *task* whose worker process died (``max_retries``), and reports
  ``WorkerCrashedError`` once they are spent. An actor is not restarted by default; restarting it
  and resubmitting what it was running would be ours to write and to get right.
* ``ray.cancel(ref, force=True)`` kills the worker process running a task: a hung evaluation
  really stops. Calls on an actor cannot be force-cancelled, only the whole actor killed.
* ``max_calls=0`` lets a worker process run any number of tasks. Ray's default for GPU tasks is
  ``max_calls=1`` — a new process, and a new CUDA context, per task; with 0 the process, its CUDA
  context and its loaded task data (``worker._evaluate`` caches them) live on, as in an actor.
* Fractional ``num_gpus`` packs several batches onto one GPU for tasks exactly as for actors.

What tasks give up is placement: consecutive batches of a task may land in different processes,
each of which loads the data once. Ray reuses a process for tasks of the same resource shape, so
in practice a cluster loads each task's data once per worker process.

The clock of ``time_limit`` starts when a batch is submitted to Ray, and this executor never has
more batches in Ray than the cluster has slots for (CPUs / ``num_cpus``, GPUs / ``num_gpus``), so
a batch starts on submission — plus a new worker process's start-up when no warm one is free
(0.4 s on an idle 2-core machine, up to 3 s under a load of 7), and, inside the limit, the first
batch's imports and data loading. On a cluster shared with other jobs, batches may wait for
resources. Keep the limit generous: it is a guard against hangs, not a budget. (Starting the
clock on the worker would need a signal back from it — a streaming task or a signalling actor —
for a few seconds of precision.)
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Mapping, Sequence
from concurrent.futures import CancelledError, Future
from typing import Any

from worker._batching import Batch, BatchQueue
from worker._executor import (
    EvalOutcome,
    EvalRequest,
    EvaluateBatch,
    describe_exception,
    run_batch,
)

_DETAIL_LIMIT = 2000  # Ray's error texts can carry whole remote tracebacks


def _evaluate_on_worker(evaluate_batch: EvaluateBatch, requests: Sequence[EvalRequest]) -> list[EvalOutcome]:
    """The Ray task: an exception becomes failed outcomes here, on the worker, so that only a
    dead process (which Ray retries) fails the task itself."""
    return run_batch(evaluate_batch, requests)


class RayExecutor:
    """Runs batches as Ray tasks with declared resources; retried when a worker dies.

    Connects to ``address`` (or ``$RAY_ADDRESS``), or starts a local Ray, unless this process
    already initialized Ray; :meth:`shutdown` stops Ray only if it started it.

    Args:
        evaluate_batch: the evaluation, a picklable module-level function (default: the real one).
        num_cpus, num_gpus: resources of one batch (fractional GPUs pack batches onto one GPU).
        time_limit: seconds a batch may run; past it its worker is killed and every request of
            the batch fails with reason "time_limit".
        max_retries: how often a batch whose worker died is run again before its requests fail
            with reason "worker_died".
        capacity: requests to keep in flight; default: the cluster's slots × ``batch_size``.

    >>> ex = RayExecutor(toy_evaluate, num_cpus=1)  # doctest: +SKIP
    >>> ex.submit(EvalRequest("k", "x", "echo", {}, 0, 10)).result().worker  # doctest: +SKIP
    'host:12345:5f1c…'
    """

    def __init__(self, evaluate_batch: EvaluateBatch | None = None, *, address: str | None = None,
                 num_cpus: float = 1.0, num_gpus: float = 0.0, time_limit: float | None = None,
                 max_retries: int = 3, batch_size: int = 32, linger: float = 0.05,
                 capacity: int | None = None) -> None:
        import ray  # lazy: the API process never imports ray

        if evaluate_batch is None:
            from worker._evaluate import evaluate_batch as real

            evaluate_batch = real
        self._evaluate = evaluate_batch
        self._owns_ray = not ray.is_initialized()
        if self._owns_ray:
            address = address or os.environ.get("RAY_ADDRESS")
            local: dict[str, Any] = {"include_dashboard": False} if address is None else {}
            ray.init(address=address, ignore_reinit_error=True, logging_level=logging.WARNING, **local)
        if capacity is None:
            slots = _slots(ray.cluster_resources(), num_cpus, num_gpus)
            capacity = slots * batch_size
        else:  # e.g. an autoscaling cluster, whose resources now say little
            slots = max(1, math.ceil(capacity / batch_size))
        self.capacity = capacity
        self._remote = ray.remote(num_cpus=num_cpus, num_gpus=num_gpus, max_retries=max_retries,
                                  retry_exceptions=False, max_calls=0)(_evaluate_on_worker)
        self._queue = BatchQueue(self._begin, self._kill, slots=slots, batch_size=batch_size,
                                 linger=linger, time_limit=time_limit)

    def submit(self, request: EvalRequest) -> Future[EvalOutcome]:
        return self._queue.submit(request)

    def cancel(self, future: Future[EvalOutcome]) -> bool:
        """Cancels one request; a batch whose every request is cancelled has its worker killed."""
        return self._queue.cancel(future)

    def shutdown(self) -> None:
        """Cancels outstanding requests and kills running batches; stops Ray if it started it."""
        self._queue.close()
        if self._owns_ray:
            import ray

            self._owns_ray = False
            ray.shutdown()

    def _begin(self, batch: Batch) -> None:
        ref = self._remote.remote(self._evaluate, batch.requests)
        batch.handle = ref
        ref.future().add_done_callback(lambda done: self._done(batch, done))

    def _done(self, batch: Batch, done: Future[list[EvalOutcome]]) -> None:
        try:
            outcomes = done.result()
        except (Exception, CancelledError) as exc:  # noqa: BLE001  (a Ray error: mapped to a reason)
            self._queue.fail(batch, _reason(exc), describe_exception(exc)[:_DETAIL_LIMIT])
            return
        self._queue.finish(batch, outcomes)

    def _kill(self, batch: Batch) -> str:
        import ray

        if batch.handle is not None:
            ray.cancel(batch.handle, force=True)
        return "its Ray worker was killed"


def _reason(exc: BaseException) -> str:
    from ray import exceptions as rx

    # ObjectLostError: the node holding the result died after the task finished
    died = (rx.WorkerCrashedError, rx.NodeDiedError, rx.LocalRayletDiedError, rx.OutOfMemoryError,
            rx.ObjectLostError)
    if isinstance(exc, died):
        return "worker_died"
    if isinstance(exc, rx.TaskCancelledError | CancelledError):
        return "cancelled"
    return "error"


def _slots(resources: Mapping[str, float], num_cpus: float, num_gpus: float) -> int:
    """How many batches of this shape the cluster runs at once."""
    counts = [resources.get(name, 0.0) / need for name, need in (("CPU", num_cpus), ("GPU", num_gpus))
              if need > 0]
    slots = int(min(counts)) if counts else 1
    if slots < 1:
        raise ValueError(f"the Ray cluster ({dict(resources)}) cannot fit one batch with "
                         f"num_cpus={num_cpus}, num_gpus={num_gpus}; pass capacity= for an autoscaling one")
    return slots
