"""The built-in tasks; importing this package registers them."""

from evaluator.tasks import charlm, cifar10, digits, digits_resnet, mnist1d, mnist1d_deep, npz, periodic  # noqa: F401
