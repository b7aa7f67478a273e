"""The built-in tasks; importing this package registers them."""

from evaluator.tasks import mnist1d  # noqa: F401
