"""The worker's results: what the store keeps, and a candidate's result over its seeds."""

from __future__ import annotations

import math
from typing import get_args

import store
from evaluator import FAILED, OK, REJECTED, Status
from worker._result import CandidateResult


def test_the_store_keeps_a_runs_outcome_as_the_evaluator_names_it():
    # the store imports no other actsearch package (tests/store/test_db.py), so its strings
    # are pinned to the evaluator's here, where the two meet
    assert (OK, REJECTED, FAILED) == (store.OK, store.REJECTED, store.FAILED)
    assert set(get_args(Status)) == set(store.FINISHED_RESULTS)


def test_a_candidate_scores_the_mean_over_its_seeds_or_its_first_failure():
    assert CandidateResult.of([(OK, 0.5, None), (OK, 0.7, None)], 2.0) == CandidateResult(0.6, 2.0, OK, None,
                                                                                             (0.5, 0.7))
    rejected = CandidateResult.of([(OK, 0.5, None), (REJECTED, None, "grad_explosion")], None)
    assert (rejected.fitness, rejected.status, rejected.reason) == (None, REJECTED, "grad_explosion")
    nonfinite = CandidateResult.of([(OK, 0.5, None), (OK, math.nan, None)], None)
    assert (nonfinite.fitness, nonfinite.status, nonfinite.reason) == (None, FAILED, "nonfinite_fitness")
