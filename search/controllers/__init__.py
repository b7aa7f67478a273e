"""The built-in controllers; importing this package registers them."""

from search.controllers import evolution, exhaustive, random_search, rl, surrogate, tpe  # noqa: F401
