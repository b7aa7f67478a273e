"""Search controllers (ask/tell) and the search loop. ``search`` never trains and never
touches the database: evaluation is a function handed to it."""

from search._base import Controller, ControllerError, Result
from search._loop import Evaluation, Scheduler, SearchBudget, SearchSummary, run_search
from search._registry import CONTROLLERS, controller_params, make_controller, register
from search.controllers.evolution import Evolution
from search.controllers.exhaustive import Exhaustive

__all__ = ["CONTROLLERS", "Controller", "ControllerError", "Result", "controller_params", "make_controller", "register"]
__all__ += ["Evaluation", "Evolution", "Exhaustive", "Scheduler", "SearchBudget", "SearchSummary", "run_search"]
