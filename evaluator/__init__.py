"""Tasks, child-network training, early rejection, population batching and multi-fidelity.

Names are imported on first use, so that ``evaluator._result`` (the vocabulary of a run's
outcome and the statistics over seeds, which the runner and the API process share) comes
without torch.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the same names, eagerly, for type checkers
    from evaluator._budget import Budget, RejectionPolicy, learning_rate
    from evaluator._data import cache_dir
    from evaluator._fidelity import AshaScheduler, geometric_rungs
    from evaluator._members import Checkpoint, Member, PopulationRun
    from evaluator._result import FAILED, OK, REJECTED, Fitness, RunResult, SeedStats, Status, over_seeds
    from evaluator._signal import SIGNAL_BOUNDS, SignalBounds, SignalGains, signal_gains
    from evaluator._task import Task, TaskData, TaskError, get_task, register, task_names
    from evaluator._train import train_population

_EXPORTS = {
    "Budget": "evaluator._budget", "RejectionPolicy": "evaluator._budget", "learning_rate": "evaluator._budget",
    "cache_dir": "evaluator._data",
    "AshaScheduler": "evaluator._fidelity", "geometric_rungs": "evaluator._fidelity",
    "Checkpoint": "evaluator._members", "Member": "evaluator._members", "PopulationRun": "evaluator._members",
    "FAILED": "evaluator._result", "OK": "evaluator._result", "REJECTED": "evaluator._result",
    "Fitness": "evaluator._result", "RunResult": "evaluator._result", "SeedStats": "evaluator._result",
    "Status": "evaluator._result", "over_seeds": "evaluator._result",
    "SIGNAL_BOUNDS": "evaluator._signal", "SignalBounds": "evaluator._signal", "SignalGains": "evaluator._signal",
    "signal_gains": "evaluator._signal",
    "Task": "evaluator._task", "TaskData": "evaluator._task", "TaskError": "evaluator._task",
    "get_task": "evaluator._task", "register": "evaluator._task", "task_names": "evaluator._task",
    "train_population": "evaluator._train",
}

__all__ = [
    "FAILED",
    "OK",
    "REJECTED",
    "SIGNAL_BOUNDS",
    "AshaScheduler",
    "Budget",
    "Checkpoint",
    "Fitness",
    "Member",
    "PopulationRun",
    "RejectionPolicy",
    "RunResult",
    "SeedStats",
    "SignalBounds",
    "SignalGains",
    "Status",
    "Task",
    "TaskData",
    "TaskError",
    "cache_dir",
    "geometric_rungs",
    "get_task",
    "learning_rate",
    "over_seeds",
    "register",
    "signal_gains",
    "task_names",
    "train_population",
]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'evaluator' has no attribute {name!r}")
    return getattr(import_module(_EXPORTS[name]), name)
