"""The built-in tasks; importing this package registers them."""

from evaluator.tasks import charlm, cifar10, digits, mnist1d, npz, periodic  # noqa: F401
