"""Core-unit genomes: ``b(u1(x1), u2(x2))`` repeated 1-3 times (Ramachandran et al. 2017).

A genome is a tuple of :class:`Unit`. Unit ``i`` (1-based) reads its two inputs from ``x``
(index 0) or from the output of an earlier unit (``1 … i-1``); the last unit's output is the
activation. Every β-carrying operator instance gets its own parameter, named ``beta``,
``beta1``, … in genome order; an input that reuses a unit reuses that unit's parameters.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import product

from space._expr import Expr, X, call, param
from space._operators import OPERATORS


@dataclass(frozen=True, order=True)
class Unit:
    unary1: str
    unary2: str
    binary: str
    input1: int = 0
    input2: int = 0

    def to_json(self) -> list[str | int]:
        return [self.unary1, self.unary2, self.binary, self.input1, self.input2]


Genome = tuple[Unit, ...]


def param_name(index: int) -> str:
    return "beta" if index == 0 else f"beta{index}"


def genome_to_expr(genome: Genome) -> Expr:
    outputs: list[Expr] = [X]
    counter = 0

    def apply(op: str, *args: Expr) -> Expr:
        nonlocal counter
        if op == "x":
            return args[0]
        if not OPERATORS[op].has_beta:
            return call(op, *args)
        name = param_name(counter)
        counter += 1
        return param(name) if op == "beta" else call(op, *args, param=name)

    for unit in genome:
        a = apply(unit.unary1, outputs[unit.input1])
        b = apply(unit.unary2, outputs[unit.input2])
        outputs.append(apply(unit.binary, a, b))
    return outputs[-1]


def units_count(n_unary: int, n_binary: int, n_units: int) -> int:
    """Syntactic count of genomes with exactly ``n_units`` units."""
    total = 1
    for i in range(1, n_units + 1):
        total *= n_unary * n_unary * n_binary * i * i
    return total


def enumerate_genomes(unary: Sequence[str], binary: Sequence[str], n_units: int) -> Iterator[Genome]:
    """Every genome with exactly ``n_units`` units, in a fixed order."""
    per_unit = [
        [Unit(u1, u2, b, i1, i2) for i1, u1, i2, u2, b in product(range(i), unary, range(i), unary, binary)]
        for i in range(1, n_units + 1)
    ]
    for units in product(*per_unit):
        yield tuple(units)


def random_unit(rng: random.Random, unary: Sequence[str], binary: Sequence[str], position: int) -> Unit:
    """A uniformly random unit at 0-based ``position`` (inputs from x or earlier units)."""
    return Unit(
        rng.choice(unary), rng.choice(unary), rng.choice(binary),
        rng.randrange(position + 1), rng.randrange(position + 1),
    )


def mutations(genome: Genome, unary: Sequence[str], binary: Sequence[str], min_units: int, max_units: int) -> list[str]:
    """The mutation kinds that can change ``genome`` within the space."""
    kinds = []
    if len(unary) > 1:
        kinds.append("unary")
    if len(binary) > 1:
        kinds.append("binary")
    if len(genome) > 1:
        kinds.append("input")
    if len(genome) < max_units:
        kinds.append("insert")
    if len(genome) > min_units:
        kinds.append("remove")
    return kinds


def mutate_genome(
    genome: Genome, rng: random.Random, unary: Sequence[str], binary: Sequence[str],
    min_units: int, max_units: int,
) -> Genome:
    """One mutation (PANGAEA-style): replace an operator, rewire an input, insert or remove a
    unit. Returns a different genome whenever the space has one."""
    kinds = mutations(genome, unary, binary, min_units, max_units)
    if not kinds:
        return genome
    kind = rng.choice(kinds)
    units = list(genome)
    i = rng.randrange(len(units))
    unit = units[i]
    if kind == "unary":
        field = rng.choice(("unary1", "unary2"))
        old = getattr(unit, field)
        units[i] = _replace(unit, **{field: rng.choice([u for u in unary if u != old])})
    elif kind == "binary":
        units[i] = _replace(unit, binary=rng.choice([b for b in binary if b != unit.binary]))
    elif kind == "input":
        i = rng.randrange(1, len(units))  # unit 0 can only read x
        field = rng.choice(("input1", "input2"))
        old = getattr(units[i], field)
        units[i] = _replace(units[i], **{field: rng.choice([j for j in range(i + 1) if j != old])})
    elif kind == "insert":
        # the new last unit reads the old output, so the old function becomes one of its parts
        new = random_unit(rng, unary, binary, len(units))
        units.append(_replace(new, input1=len(units)))
    else:  # remove the last unit: the previous unit's output becomes the activation
        units.pop()
    return tuple(units)


def _replace(unit: Unit, **changes: str | int) -> Unit:
    fields = unit.__dict__ | changes
    return Unit(**fields)


def genome_from_json(data: object) -> Genome:
    if not isinstance(data, list) or not data:
        raise ValueError("a core genome is a non-empty list of units")
    units = []
    for i, item in enumerate(data):
        if not (isinstance(item, list) and len(item) == 5):
            raise ValueError(f"unit {i} must be [unary1, unary2, binary, input1, input2]")
        u1, u2, b, i1, i2 = item
        units.append(Unit(str(u1), str(u2), str(b), int(i1), int(i2)))
    return tuple(units)
