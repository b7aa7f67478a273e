"""``tpe`` — Optuna's TPE sampler over a fixed-slot encoding of the core units.

Optuna's samplers need a fixed-length encoding: on a define-by-run tree encoding TPE keeps
re-proposing the same configuration (BACKGROUND.md, "Optuna as a controller"), while on fixed
slots it found Swish in 4 of 5 runs where random search found it in none. So every candidate is
the same list of categorical slots: per unit ``i`` (0-based) ``u{i}_input1`` / ``u{i}_input2``
over ``0..i`` (x or an earlier unit), ``u{i}_unary1`` / ``u{i}_unary2`` and ``u{i}_binary``; plus
``n_units`` when ``min_units < units``. All slots are always sampled and the ones beyond
``n_units`` ignored, which keeps the encoding fixed-length — the point of it.

Optuna is driven through ask/tell (``study.ask(fixed_distributions)``, ``study.tell``), the
interface a service needs (Optuna's heartbeats only work with ``optimize()``).

Values told to Optuna: the fitness; a rejected candidate (fitness None or not finite) gets the
worst fitness told so far, or the trial is marked failed (ignored by TPE) when nothing has been
scored yet. A proposal equivalent to one still being evaluated is marked failed too (the base
class skips it); one equivalent to an evaluated function is told that function's fitness.

Exact resume: TPE's random generator is not serialisable, so the sampler is re-created before
every ask with a seed derived from ``seed`` and the number of trials so far. A study rebuilt from
the saved trials (``study.add_trial``) therefore proposes exactly what the original would have.

Example:
    >>> from search import make_controller
    >>> from space import Space
    >>> c = make_controller("tpe", Space(unary=("x", "tanh"), binary=("add", "mul")))
    >>> len(c.ask(2))
    2
"""

from __future__ import annotations

import functools
import math
import random
import warnings
from typing import TYPE_CHECKING, Any

from search._base import Controller, ControllerError
from search._params import require_core_space
from search._registry import register
from space import Candidate, Space, Unit, fingerprint

if TYPE_CHECKING:
    import optuna

_SEED_STRIDE = 1_000_003  # a prime: (seed, trials) pairs map to distinct sampler seeds


@register
class TPE(Controller):
    """Optuna TPE over fixed categorical slots (core spaces only).

    Args:
        n_startup_trials: uniform trials before TPE models the results (Optuna's default 10).
        multivariate: model the slots jointly, so that e.g. ``mul`` with ``sigmoid`` is learned
            as a pair, not as two independent preferences.
        constant_liar: count trials still being evaluated as bad results, so a batch asked
            before any tell (several workers) is diverse instead of n copies of one point.
    """

    name = "tpe"

    def __init__(
        self, space: Space, *, seed: int = 0, n_startup_trials: int = 10, multivariate: bool = True,
        constant_liar: bool = True,
    ) -> None:
        super().__init__(space, seed=seed)
        require_core_space("tpe", space, "its fixed-slot encoding has no fixed length for free-form trees")
        if isinstance(n_startup_trials, bool) or not isinstance(n_startup_trials, int) or n_startup_trials < 1:
            raise ControllerError(f"tpe parameter 'n_startup_trials' must be an integer >= 1, got {n_startup_trials!r}")
        for pname, flag in (("multivariate", multivariate), ("constant_liar", constant_liar)):
            if not isinstance(flag, bool):
                raise ControllerError(f"tpe parameter {pname!r} must be true or false, got {flag!r}")
        self.n_startup_trials, self.multivariate, self.constant_liar = n_startup_trials, multivariate, constant_liar
        self._min_units = space.units if space.min_units is None else space.min_units
        self._open: dict[Candidate, list[int]] = {}  # candidate -> its unanswered trial numbers, oldest first
        self._trials: list[list[Any]] = []  # [params, value | None, "complete" | "fail" | "running"]
        self._slots = self._distributions()  # fixed by the space: built once
        self._study = self._new_study()

    # -- the encoding
    def _distributions(self) -> dict[str, optuna.distributions.BaseDistribution]:
        from optuna.distributions import CategoricalDistribution

        slots: dict[str, optuna.distributions.BaseDistribution] = {}
        if self._min_units < self.space.units:
            slots["n_units"] = CategoricalDistribution(list(range(self._min_units, self.space.units + 1)))
        for i in range(self.space.units):
            inputs = CategoricalDistribution(list(range(i + 1)))
            slots[f"u{i}_input1"], slots[f"u{i}_unary1"] = inputs, CategoricalDistribution(self.space.unary)
            slots[f"u{i}_input2"], slots[f"u{i}_unary2"] = inputs, CategoricalDistribution(self.space.unary)
            slots[f"u{i}_binary"] = CategoricalDistribution(self.space.binary)
        return slots

    def _decode(self, params: dict[str, Any]) -> Candidate:
        n = int(params.get("n_units", self.space.units))
        return tuple(
            Unit(
                params[f"u{i}_unary1"], params[f"u{i}_unary2"], params[f"u{i}_binary"],
                int(params[f"u{i}_input1"]), int(params[f"u{i}_input2"]),
            )
            for i in range(n)
        )

    # -- Optuna
    def _new_study(self) -> optuna.Study:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)  # one INFO line per trial otherwise
        return optuna.create_study(direction="maximize")

    def _reseed(self) -> None:
        with warnings.catch_warnings():  # multivariate/constant_liar are "experimental" in some versions
            warnings.simplefilter("ignore")
            self._study.sampler = _fixed_space_sampler()(
                self._slots, seed=(self.seed * _SEED_STRIDE + len(self._trials)) % 2**32,
                n_startup_trials=self.n_startup_trials, multivariate=self.multivariate,
                constant_liar=self.constant_liar,
            )

    def _tell(self, number: int, value: float | None) -> None:
        from optuna.trial import TrialState

        if value is None:
            self._study.tell(number, state=TrialState.FAIL)
            self._trials[number][2] = "fail"
        else:
            self._study.tell(number, value)
            self._trials[number][1:] = [value, "complete"]

    # -- controller hooks
    def _propose(self, rng: random.Random) -> Candidate:
        self._reseed()
        trial = self._study.ask(self._slots)
        self._trials.append([dict(trial.params), None, "running"])
        candidate = self._decode(trial.params)
        key = fingerprint(self.space.to_expr(candidate))
        if key in self._candidates and key not in self._results:
            self._tell(trial.number, None)  # equivalent to one in flight: the base skips it
        else:
            self._open.setdefault(candidate, []).append(trial.number)
        return candidate

    def _observe(self, candidate: Candidate, fitness: float | None) -> None:
        numbers = self._open.get(candidate)
        if not numbers:
            return
        number = numbers.pop(0)
        if not numbers:
            del self._open[candidate]
        if fitness is None or not math.isfinite(fitness):
            scored = [t[1] for t in self._trials if t[2] == "complete"]
            fitness = min(scored) if scored else None
        self._tell(number, fitness)

    def _state(self) -> dict[str, Any]:
        return {"trials": self._trials}

    def _load(self, state: dict[str, Any]) -> None:
        from optuna.trial import TrialState, create_trial

        distributions = self._slots
        states = {"complete": TrialState.COMPLETE, "fail": TrialState.FAIL, "running": TrialState.RUNNING}
        self._study, self._trials, self._open = self._new_study(), [], {}
        for number, (params, value, status) in enumerate(state["trials"]):
            self._study.add_trial(
                create_trial(params=params, distributions=distributions, value=value, state=states[status])
            )
            self._trials.append([params, value, status])
            if status == "running":
                self._open.setdefault(self._decode(params), []).append(number)


@functools.cache
def _fixed_space_sampler() -> type:
    """The sampler class, built on first use (``import search`` does not import Optuna)."""
    import optuna

    class FixedSpaceTPESampler(optuna.samplers.TPESampler):
        """TPE over a search space known in advance. A sampler is made afresh for every proposal
        (seeded from the trial count, so that a resumed controller proposes exactly what the
        original would have), and TPE's own search-space inference starts from scratch in each:
        it walks every trial, for every parameter asked — quadratic in the trials, minutes per
        proposal after a few thousand (duplicates count as trials). Every trial here asks the
        same slots, so the inferred space is this one anyway (single-choice slots left out, as
        TPE does)."""

        def __init__(self, space: dict[str, Any], *, multivariate: bool, **kwargs: Any) -> None:
            super().__init__(multivariate=multivariate, **kwargs)
            self._fixed_space = {name: d for name, d in sorted(space.items()) if not d.single()}
            self._fixed_multivariate = multivariate

        def infer_relative_search_space(self, study: Any, trial: Any) -> dict[str, Any]:
            return dict(self._fixed_space) if self._fixed_multivariate else {}

    return FixedSpaceTPESampler
