"""Tasks, child-network training, early rejection, population batching and multi-fidelity."""

from evaluator._budget import Budget, RejectionPolicy, learning_rate
from evaluator._result import FAILED, OK, REJECTED, Fitness, RunResult
from evaluator._task import Task, TaskData, TaskError, get_task, register, task_names
from evaluator._train import Checkpoint, Member, PopulationRun, train_population

__all__ = [
    "FAILED",
    "OK",
    "REJECTED",
    "Budget",
    "Checkpoint",
    "Fitness",
    "Member",
    "PopulationRun",
    "RejectionPolicy",
    "RunResult",
    "Task",
    "TaskData",
    "TaskError",
    "get_task",
    "learning_rate",
    "register",
    "task_names",
    "train_population",
]
