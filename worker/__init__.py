"""The job runner: claims jobs, drives controllers, runs evaluations on Ray, persists every
result and resumes after a crash. ``worker`` is the only package that joins space, search,
evaluator and store."""

from worker._evaluate import evaluate_batch
from worker._executor import EvalOutcome, EvalRequest, Executor, InProcessExecutor
from worker._job import JobRun
from worker._ray import RayExecutor
from worker._runner import Runner
from worker._spec import JobSpec, SpecError

__all__ = ["EvalOutcome", "EvalRequest", "Executor", "InProcessExecutor", "JobRun", "JobSpec", "RayExecutor",
           "Runner", "SpecError", "evaluate_batch"]
