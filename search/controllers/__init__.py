"""The built-in controllers; importing this package registers them."""

from search.controllers import random_search  # noqa: F401
