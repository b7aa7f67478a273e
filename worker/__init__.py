"""The job runner: claims jobs, drives controllers, runs evaluations on Ray, persists every
result and resumes after a crash. ``worker`` is the only package that joins space, search,
evaluator and store.

Names are imported on first use, so that ``worker.spec`` (the JobSpec, which the API process
validates requests with) comes without the runner's machinery.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the same names, eagerly, for type checkers
    from worker._evaluate import evaluate_batch
    from worker._executor import Executor
    from worker._in_process import InProcessExecutor
    from worker._job import JobRun
    from worker._ray import RayExecutor
    from worker._request import EvalRequest
    from worker._result import EvalOutcome
    from worker._runner import Runner
    from worker.spec import JobSpec, SpecError

_EXPORTS = {
    "evaluate_batch": "worker._evaluate",
    "EvalOutcome": "worker._result", "EvalRequest": "worker._request", "Executor": "worker._executor",
    "InProcessExecutor": "worker._in_process",
    "JobRun": "worker._job",
    "RayExecutor": "worker._ray",
    "Runner": "worker._runner",
    "JobSpec": "worker.spec", "SpecError": "worker.spec",
}

__all__ = ["EvalOutcome", "EvalRequest", "Executor", "InProcessExecutor", "JobRun", "JobSpec", "RayExecutor",
           "Runner", "SpecError", "evaluate_batch"]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'worker' has no attribute {name!r}")
    return getattr(import_module(_EXPORTS[name]), name)
