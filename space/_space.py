"""A search space: which operators, and how candidates are built from them.

Two forms:

* ``core`` (default) — the Swish paper's template ``b(u1(x1), u2(x2))`` with ``min_units`` to
  ``units`` core units (1-3); genomes are tuples of :class:`~space._core.Unit`;
* ``tree`` — free-form expression trees under ``max_size``/``max_depth`` with optional constant
  leaves; genomes are the expressions themselves.

Every method is deterministic given a ``random.Random``; ``to_expr`` turns a genome into the
expression that is identified, compiled and trained.

Example:
    >>> import random
    >>> space = Space(unary=("x", "sigmoid", "tanh"), binary=("mul", "add"))
    >>> space.count()
    18
    >>> str(space.to_expr(space.sample(random.Random(0)))) != ""
    True
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from space._core import (
    Genome,
    enumerate_genomes,
    genome_from_json,
    genome_to_expr,
    mutate_genome,
    random_unit,
    units_count,
)
from space._expr import Expr
from space._identity import fingerprint
from space._operators import OPERATORS, SWISH_PAPER_BINARY, SWISH_PAPER_UNARY
from space._tree import TreeGrammar

MAX_UNITS = 3
MAX_TREE_SIZE = 31
MAX_TREE_DEPTH = 8

Candidate = Genome | Expr


class SpaceError(ValueError):
    """An invalid space definition; ``field`` names the offending field."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"{field}: {message}")


@dataclass(frozen=True)
class Space:
    unary: tuple[str, ...] = SWISH_PAPER_UNARY
    binary: tuple[str, ...] = SWISH_PAPER_BINARY
    units: int = 1  # core form: the most core units in a candidate (the paper used 1-3)
    min_units: int | None = None  # core form: the fewest units; None means exactly ``units``
    form: str = "core"  # "core" (the Swish paper's template) or "tree" (free-form)
    max_size: int = 9  # tree form: at most this many nodes
    max_depth: int = 4  # tree form: at most this many levels
    constants: tuple[float, ...] = field(default=())  # tree form: constant leaves allowed

    def __post_init__(self) -> None:
        object.__setattr__(self, "unary", tuple(self.unary))
        object.__setattr__(self, "binary", tuple(self.binary))
        object.__setattr__(self, "constants", tuple(float(c) for c in self.constants))
        _validate(self)

    # -- construction from/to plain data (JobSpecs)
    @classmethod
    def from_json(cls, data: Any) -> Space:
        if not isinstance(data, dict):
            raise SpaceError("space", "must be an object")
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise SpaceError(sorted(unknown)[0], f"unknown field; known: {', '.join(cls.__dataclass_fields__)}")
        for name in ("unary", "binary", "constants"):
            if name in data and not isinstance(data[name], list | tuple):
                raise SpaceError(name, "must be a list")
        for name in ("units", "min_units", "max_size", "max_depth"):
            value = data.get(name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                raise SpaceError(name, "must be an integer")
        return cls(**data)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["unary"], out["binary"], out["constants"] = list(self.unary), list(self.binary), list(self.constants)
        return out

    @property
    def _min_units(self) -> int:
        return self.units if self.min_units is None else self.min_units

    @property
    def _grammar(self) -> TreeGrammar:
        return TreeGrammar.of(self.unary, self.binary, self.constants, self.max_size, self.max_depth)

    # -- the space's members
    def count(self) -> int:
        """Exact number of syntactically distinct candidates."""
        if self.form == "tree":
            return self._grammar.count()
        u, b = len(self.unary), len(self.binary)
        return sum(units_count(u, b, n) for n in range(self._min_units, self.units + 1))

    def enumerate(self) -> Iterator[Candidate]:
        """Every candidate once, in a fixed order."""
        if self.form == "tree":
            yield from self._grammar.enumerate()
            return
        for n in range(self._min_units, self.units + 1):
            yield from enumerate_genomes(self.unary, self.binary, n)

    def unique(self) -> Iterator[tuple[Candidate, Expr]]:
        """The first candidate (in :meth:`enumerate` order) of every distinct function."""
        seen: set[str] = set()
        for candidate in self.enumerate():
            expr = self.to_expr(candidate)
            key = fingerprint(expr)
            if key not in seen:
                seen.add(key)
                yield candidate, expr

    def sample(self, rng: random.Random) -> Candidate:
        if self.form == "tree":
            return self._grammar.sample(rng)
        n = rng.randint(self._min_units, self.units)
        return tuple(random_unit(rng, self.unary, self.binary, i) for i in range(n))

    def mutate(self, candidate: Candidate, rng: random.Random) -> Candidate:
        """A valid neighbour of ``candidate`` in this space (different whenever one exists)."""
        if self.form == "tree":
            assert isinstance(candidate, Expr)
            return self._grammar.mutate(candidate, rng)
        assert isinstance(candidate, tuple)
        return mutate_genome(candidate, rng, self.unary, self.binary, self._min_units, self.units)

    def contains(self, candidate: Candidate) -> bool:
        if self.form == "tree":
            return isinstance(candidate, Expr) and self._grammar.contains(candidate)
        if not isinstance(candidate, tuple) or not self._min_units <= len(candidate) <= self.units:
            return False
        return all(
            u.unary1 in self.unary and u.unary2 in self.unary and u.binary in self.binary
            and 0 <= u.input1 <= i and 0 <= u.input2 <= i
            for i, u in enumerate(candidate)
        )

    def to_expr(self, candidate: Candidate) -> Expr:
        return candidate if isinstance(candidate, Expr) else genome_to_expr(candidate)

    # -- candidates as plain data (controller state)
    def candidate_to_json(self, candidate: Candidate) -> Any:
        if isinstance(candidate, Expr):
            return candidate.to_json()
        return [u.to_json() for u in candidate]

    def candidate_from_json(self, data: Any) -> Candidate:
        candidate: Candidate = Expr.from_json(data) if self.form == "tree" else genome_from_json(data)
        if not self.contains(candidate):
            raise SpaceError("candidate", f"{data!r} is not a member of this space")
        return candidate


def _validate(space: Space) -> None:
    if space.form not in ("core", "tree"):
        raise SpaceError("form", f"must be 'core' or 'tree', got {space.form!r}")
    for name, arity in (("unary", 1), ("binary", 2)):
        ops = getattr(space, name)
        if not ops:
            raise SpaceError(name, "needs at least one operator")
        if len(set(ops)) != len(ops):
            raise SpaceError(name, "lists an operator twice")
        for op in ops:
            spec = OPERATORS.get(op) if isinstance(op, str) else None
            if spec is None or not spec.searchable or spec.arity != arity:
                valid = ", ".join(n for n, o in OPERATORS.items() if o.arity == arity and o.searchable)
                raise SpaceError(name, f"unknown {name} operator {op!r}; valid: {valid}")
    if not 1 <= space.units <= MAX_UNITS:
        raise SpaceError("units", f"must be between 1 and {MAX_UNITS}, got {space.units}")
    if space.min_units is not None and not 1 <= space.min_units <= space.units:
        raise SpaceError("min_units", f"must be between 1 and units ({space.units})")
    if not 1 <= space.max_size <= MAX_TREE_SIZE:
        raise SpaceError("max_size", f"must be between 1 and {MAX_TREE_SIZE}")
    if not 1 <= space.max_depth <= MAX_TREE_DEPTH:
        raise SpaceError("max_depth", f"must be between 1 and {MAX_TREE_DEPTH}")
    if len(space.constants) > 16 or any(abs(c) > 1e3 or c != c for c in space.constants):
        raise SpaceError("constants", "at most 16 finite constants with |c| <= 1000")
    if space.form == "tree" and space._grammar.count_var(space.max_depth, 1) == 0:
        raise SpaceError("unary", "a tree space needs a leaf")
