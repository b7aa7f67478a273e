"""The in-process executor: batches on threads of this process (tests, the embedded runner,
``actsearch evaluate``)."""

from __future__ import annotations

import threading
from concurrent.futures import Future

from worker._batching import Batch, BatchQueue
from worker._executor import EvaluateBatch, run_batch, worker_id
from worker._request import EvalRequest
from worker._result import EvalOutcome


class InProcessExecutor:
    """Runs batches on threads of this process: tests, the embedded runner, ``evaluate`` locally.

    A thread cannot be killed: a batch past ``time_limit`` resolves as failed ("time_limit")
    and frees its slot, but its thread is abandoned and keeps computing until it returns
    (daemon, so the process can still exit). That is why :class:`RayExecutor`, which kills
    the worker process, is the production executor.

    >>> from worker.testing import toy_evaluate
    >>> ex = InProcessExecutor(toy_evaluate, workers=2)
    >>> ex.submit(EvalRequest("k", "x", "echo", {}, 0, 10)).result().status
    'ok'
    >>> ex.shutdown()
    """

    def __init__(self, evaluate_batch: EvaluateBatch | None = None, *, workers: int = 1,
                 time_limit: float | None = None, batch_size: int = 32, linger: float = 0.05) -> None:
        if evaluate_batch is None:  # lazy: the real evaluator imports torch
            from worker._evaluate import evaluate_batch as real

            evaluate_batch = real
        self._evaluate = evaluate_batch
        self.capacity = workers * batch_size
        self._queue = BatchQueue(self._begin, _abandon, slots=workers, batch_size=batch_size,
                                 linger=linger, time_limit=time_limit, where=worker_id())

    def submit(self, request: EvalRequest) -> Future[EvalOutcome]:
        return self._queue.submit(request)

    def cancel(self, future: Future[EvalOutcome]) -> bool:
        """Cancels one request (see :meth:`BatchQueue.cancel`); an abandoned thread runs on."""
        return self._queue.cancel(future)

    def shutdown(self) -> None:
        self._queue.close()

    def _begin(self, batch: Batch) -> None:
        threading.Thread(target=self._run, args=(batch,), name="actsearch-eval", daemon=True).start()

    def _run(self, batch: Batch) -> None:
        outcomes = None
        try:
            outcomes = run_batch(self._evaluate, batch.requests)
        finally:  # even a SystemExit in evaluate_batch must not leave futures pending forever
            if outcomes is None:
                self._queue.fail(batch, "error", "the evaluation thread exited", worker_id())
            else:
                self._queue.finish(batch, outcomes)


def _abandon(batch: Batch) -> str:
    return "its thread cannot be killed and was abandoned"
