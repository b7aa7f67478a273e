"""``random`` — uniform samples of the space: the baseline every other controller must beat."""

from __future__ import annotations

import random

from search._base import Controller
from search._registry import register
from space import Candidate, Space


@register
class RandomSearch(Controller):
    name = "random"

    def __init__(self, space: Space, *, seed: int = 0) -> None:
        super().__init__(space, seed=seed)

    def _propose(self, rng: random.Random) -> Candidate:
        return self.space.sample(rng)
