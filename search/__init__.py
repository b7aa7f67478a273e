"""Search controllers (ask/tell) and the search loop. ``search`` never trains and never
touches the database: evaluation is a function handed to it."""

from search._base import Controller, ControllerError, Result
from search._registry import CONTROLLERS, controller_params, make_controller, register

__all__ = ["CONTROLLERS", "Controller", "ControllerError", "Result", "controller_params", "make_controller", "register"]
