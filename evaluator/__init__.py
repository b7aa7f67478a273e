"""Tasks, child-network training, early rejection, population batching and multi-fidelity."""

from evaluator._budget import Budget, RejectionPolicy, learning_rate
from evaluator._data import cache_dir
from evaluator._fidelity import AshaScheduler, geometric_rungs
from evaluator._result import FAILED, OK, REJECTED, Fitness, RunResult
from evaluator._signal import SIGNAL_BOUNDS, SignalBounds, SignalGains, signal_gains
from evaluator._task import Task, TaskData, TaskError, get_task, register, task_names
from evaluator._train import Checkpoint, Member, PopulationRun, train_population

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
    "SignalBounds",
    "SignalGains",
    "Task",
    "TaskData",
    "TaskError",
    "cache_dir",
    "geometric_rungs",
    "get_task",
    "learning_rate",
    "register",
    "signal_gains",
    "task_names",
    "train_population",
]
