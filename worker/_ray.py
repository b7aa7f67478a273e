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
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import CancelledError, Future
from typing import Any

from worker._batching import Batch, BatchQueue
from worker._executor import EvaluateBatch, describe_exception, run_batch
from worker._request import EvalRequest
from worker._result import EvalOutcome

log = logging.getLogger(__name__)

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
        capacity: requests to keep in flight; default: the cluster's slots × ``batch_size``,
            read again at every job's start.
        wait_seconds: how long to wait for a cluster without room for one batch (no worker
            node has joined yet) before giving up with ValueError.
        ray_output_to_logging: turn what Ray prints in this process (its workers' output, the
            cluster's notices such as a lost node) into log records of the ``actsearch.ray``
            logger, and let Ray's own ``ray`` logger propagate to the root handlers, for JSON
            logs; by default Ray prints them itself.

    >>> ex = RayExecutor(toy_evaluate, num_cpus=1)  # doctest: +SKIP
    >>> ex.submit(EvalRequest("k", "x", "echo", {}, 0, 10)).result().worker  # doctest: +SKIP
    'host:12345:5f1c…'
    """

    def __init__(self, evaluate_batch: EvaluateBatch | None = None, *, address: str | None = None,
                 num_cpus: float = 1.0, num_gpus: float = 0.0, time_limit: float | None = None,
                 max_retries: int = 3, batch_size: int = 32, linger: float = 0.05,
                 capacity: int | None = None, ray_output_to_logging: bool = False,
                 wait_seconds: float = 0.0) -> None:
        import ray  # lazy: the API process never imports ray

        if evaluate_batch is None:
            from worker._evaluate import evaluate_batch as real

            evaluate_batch = real
        self._evaluate = evaluate_batch
        self._owns_ray = not ray.is_initialized()
        if self._owns_ray:
            address = address or os.environ.get("RAY_ADDRESS")
            local: dict[str, Any] = {"include_dashboard": False} if address is None else {}
            if ray_output_to_logging:
                _route_ray_output_to_logging()
            ray.init(address=address, ignore_reinit_error=True, logging_level=logging.WARNING, **local)
            if ray_output_to_logging:  # ray.init gave the "ray" logger a handler of its own format
                logging.getLogger("ray").handlers.clear()
                logging.getLogger("ray").propagate = True
        self._shape = (num_cpus, num_gpus)
        self._fixed = capacity is not None  # e.g. an autoscaling cluster, whose resources now say little
        if capacity is None:
            slots = _wait_for_slots(num_cpus, num_gpus, wait_seconds)
            capacity = slots * batch_size
        else:
            slots = max(1, math.ceil(capacity / batch_size))
        self._capacity, self._batch_size = capacity, batch_size
        self._remote = ray.remote(num_cpus=num_cpus, num_gpus=num_gpus, max_retries=max_retries,
                                  retry_exceptions=False, max_calls=0)(_evaluate_on_worker)
        self._queue = BatchQueue(self._begin, self._kill, slots=slots, batch_size=batch_size,
                                 linger=linger, time_limit=time_limit)

    @property
    def capacity(self) -> int:
        """Requests worth keeping in flight: the cluster's slots now × ``batch_size``, so that
        the next job uses nodes that joined since (read at every job's start)."""
        if not self._fixed:
            import ray

            slots = _slots(ray.cluster_resources(), *self._shape)
            if slots >= 1:
                self._queue.resize(slots)
                self._capacity = slots * self._batch_size
        return self._capacity

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


def _route_ray_output_to_logging() -> None:
    # Ray's driver prints its workers' output and the cluster's error notices ("(raylet) The
    # node ... has missed too many heartbeats") straight to stdout/stderr, which breaks logs of
    # one JSON object a line. Ray offers no hook for it, so its printer (looked up by name when
    # called, and bound when ray.init connects) is replaced; if a Ray version renames it, Ray
    # simply goes on printing.
    from ray._private import worker as ray_worker

    if not callable(getattr(ray_worker, "print_to_stdstream", None)):
        return

    def to_logging(data: dict[str, Any], ignore_prefix: bool = False) -> None:
        level = logging.WARNING if data.get("is_err") or data.get("pid") == "raylet" else logging.INFO
        source = data.get("task_name") or data.get("actor_name") or data.get("pid")
        for line in data.get("lines", ()):
            _cluster_log.log(level, "(%s) %s", source, line.rstrip())

    ray_worker.print_to_stdstream = to_logging


_cluster_log = logging.getLogger("actsearch.ray")


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
    """How many batches of this shape the cluster runs at once (0: not even one)."""
    counts = [resources.get(name, 0.0) / need for name, need in (("CPU", num_cpus), ("GPU", num_gpus))
              if need > 0]
    return int(min(counts)) if counts else 1


def _wait_for_slots(num_cpus: float, num_gpus: float, wait_seconds: float) -> int:
    """The cluster's slots, once it has one: a runner may start before any worker node has
    joined (``docker compose up`` starts them together)."""
    import ray

    deadline, told = time.monotonic() + wait_seconds, 0.0
    while (slots := _slots(resources := ray.cluster_resources(), num_cpus, num_gpus)) < 1:
        if time.monotonic() > deadline:
            raise ValueError(f"the Ray cluster ({dict(resources)}) cannot fit one batch with num_cpus={num_cpus}, "
                             f"num_gpus={num_gpus} after {wait_seconds:.0f} s; pass capacity= for an autoscaling one")
        if time.monotonic() - told > 30:
            log.warning("waiting for the Ray cluster to offer num_cpus=%s, num_gpus=%s (it has %s)", num_cpus,
                        num_gpus, dict(resources))
            told = time.monotonic()
        time.sleep(1)
    return slots
    return slots
