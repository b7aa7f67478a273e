"""``exhaustive`` — every distinct function of a small space once, in a fixed order.

The order is that of :meth:`space.Space.unique`: the first genome (in
:meth:`~space.Space.enumerate` order) of every function, so a one-unit space of the Swish paper
("Searching for Activation Functions", Ramachandran et al. 2017) is covered in about 4,000
evaluations instead of 6,250. The state is one integer — how far the enumeration has been
read — because the base class already remembers every fingerprint proposed: resuming replays
the enumeration up to that point without fingerprinting it again, and the ``unique`` filter is
exactly "not proposed yet".

Example:
    >>> from space import Space
    >>> ctrl = Exhaustive(Space(unary=("x", "neg"), binary=("add", "mul")))
    >>> [str(e) for e in ctrl.ask(10)]
    ['x + x', 'x * x', 'x + -x', 'x * -x', '-x + -x']
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator
from typing import Any

from search._base import Controller, ControllerError
from search._registry import register
from space import Candidate, Expr, Space, fingerprint

# Beyond this many syntactic candidates "every function" is not a plan: use evolution or random.
MAX_SPACE = 1_000_000


@register
class Exhaustive(Controller):
    name = "exhaustive"

    def __init__(self, space: Space, *, seed: int = 0) -> None:
        super().__init__(space, seed=seed)
        if space.count() > MAX_SPACE:
            raise ControllerError(
                f"exhaustive needs a small space: this one has {space.count():,} candidates "
                f"(at most {MAX_SPACE:,}); use evolution or random")
        self._read = 0  # candidates of space.enumerate() consumed so far
        self._source: Iterator[Candidate] = space.enumerate()
        self._next: Candidate | None = None  # looked ahead, not yet proposed

    def ask(self, n: int) -> list[Expr]:
        # Proposals come one at a time so that an exhausted space yields a short list at once
        # instead of the base class drawing duplicates until its retry limit.
        if n < 0:
            raise ControllerError(f"n must be >= 0, got {n}")
        out: list[Expr] = []
        while len(out) < n and self._peek() is not None:
            out += super().ask(1)
        return out

    def _peek(self) -> Candidate | None:
        while self._next is None:
            candidate = next(self._source, None)
            if candidate is None:
                return None
            self._read += 1
            if fingerprint(self.space.to_expr(candidate)) not in self._candidates:
                self._next = candidate
        return self._next

    def _propose(self, rng: random.Random) -> Candidate:
        candidate = self._peek()
        assert candidate is not None  # ask() only proposes after a successful peek
        self._next = None
        return candidate

    def _state(self) -> dict[str, Any]:
        # A looked-ahead candidate was read but not proposed: count it as unread.
        return {"read": self._read - (self._next is not None)}

    def _load(self, state: dict[str, Any]) -> None:
        self._read = int(state["read"])
        self._source = itertools.islice(self.space.enumerate(), self._read, None)
        self._next = None
