"""``surrogate`` — a nearest-neighbour surrogate over function fingerprints (AQuaSurF).

Bingham & Miikkulainen 2023, "Efficient Activation Function Optimization through Surrogate
Modeling", found that an activation function's *outputs at fixed points* predict how well it
trains, and that a k-nearest-neighbour regressor over those outputs finds top functions with far
fewer evaluations than random search. This controller does exactly that, online:

1. warm-up: the first ``warmup`` proposals are uniform samples of the space;
2. afterwards each proposal samples a pool of ``pool`` candidates, predicts each one's fitness as
   the mean fitness of its ``k`` nearest evaluated neighbours in feature space, and proposes the
   best-predicted one not proposed before; with probability ``epsilon`` it proposes a uniform
   sample instead, so a wrong surrogate cannot trap the search in one basin.

Features are the function's values at the fingerprint points inside [-5, 5] (the Act-Bench range:
a grid plus clipped normal samples, see :data:`space.POINTS`) with every β at 1 (its usual
initial value), compressed by a signed log so that exp-like functions do not dominate the
distances; NaN counts as 0. Both the core and the tree form are supported: the surrogate sees
functions, not genomes.

Values alone mislead where what decides fitness is structural. On the default-fitness table the
five best functions are one family, ``sigmoid_mul(u, sin x)``, whose value-space neighbours score
below average, so a values-only k-NN reached the family later than random search did. So the
distance also counts the *parts* (:func:`search._structure.parts`: the root operator and each
operator-to-operand edge) that one function has and the other lacks, each adding ``structure``
to the squared distance. Two random functions' squared value distance has a median of about 500,
so the default 1,000 makes structure decide and values break its ties: the family's members are
each other's nearest neighbours. Evaluations to a top-5 function on that table went from 0.57 of
random search's to 0.35-0.37 (two sets of 60 seeds), and from 0.37 to 0.20-0.30 on the shallow
table (``structure: 0`` is the paper's features alone; docs/search.md has the figures).

A prediction answers two questions, each from the ``k`` nearest: will the function train at all
(the share of its ``k`` nearest told results that did), and how well if it does (the mean fitness
of its ``k`` nearest that trained). It is their expectation, a rejection (fitness None) counting
as the worst fitness told so far, re-read at every fit, so no scale is fixed in advance. One mean
over the ``k`` nearest with rejections as the worst (as before) let a family's rejected members
hide how well its trained ones do: on the default-fitness table the separate questions took the
evaluations to a top-5 function from 0.37 to 0.33 of random search's (fresh seeds), and on the
shallow table from 0.30 to 0.24.

The training set is the base class's record of told results, so this controller has no state of
its own beyond the random generator the base already saves: features are recomputed from the
candidates.

Example:
    >>> from search import make_controller
    >>> from space import Space
    >>> c = make_controller("surrogate", Space(unary=("x", "tanh"), binary=("add",)), params={"k": 3})
    >>> len(c.ask(2))
    2
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np
from scipy import sparse

from search._base import Controller
from search._params import check_float, check_int
from search._registry import register
from search._structure import Part, parts
from space import POINTS, Candidate, Space, evaluate, fingerprint

FEATURE_POINTS = POINTS[np.abs(POINTS) <= 5.0]
_FEATURE_CLIP = 1e300  # inf -> a huge finite value before the signed log (log1p(1e300) ~ 690)


def _nearest(distances: np.ndarray, k: int) -> np.ndarray:
    """The columns of the ``k`` smallest distances of each row (all, when there are no more):
    a partition, not a sort of every told result (deterministic too)."""
    k = min(k, distances.shape[1])
    if k == distances.shape[1]:
        return np.arange(k)[None, :].repeat(len(distances), axis=0)
    return np.argpartition(distances, k - 1, axis=1)[:, :k]


def features(space: Space, candidate: Candidate) -> np.ndarray:
    """The surrogate's feature vector of one candidate (see the module docstring)."""
    values = evaluate(space.to_expr(candidate), FEATURE_POINTS)
    values = np.nan_to_num(values, nan=0.0, posinf=_FEATURE_CLIP, neginf=-_FEATURE_CLIP)
    return np.sign(values) * np.log1p(np.abs(values))


@register
class Surrogate(Controller):
    """k-NN surrogate search over fingerprint features (AQuaSurF-style).

    Args:
        k: neighbours averaged per prediction (the paper's regressor is k-NN). With the structural
            distance, 3, 4 and 5 measured within seed noise of each other on the tables; 5 was
            worse on the small synthetic problem of the tests (17 evaluations against 9).
        pool: random candidates scored per proposal; more exploits the surrogate harder.
        epsilon: probability of a uniform proposal instead of the surrogate's best.
        warmup: results before the surrogate is trusted; k-NN needs only a few points (on the
            test problem 5 beat 10: a median 11 evaluations to a top-5 function against 13).
        structure: squared distance added per part that one function has and the other lacks
            (0: values alone).
    """

    name = "surrogate"

    def __init__(
        self, space: Space, *, seed: int = 0, k: int = 4, pool: int = 500, epsilon: float = 0.1, warmup: int = 5,
        structure: float = 1000.0
    ) -> None:
        super().__init__(space, seed=seed)
        check_int("surrogate", "k", k, 1, 1000)
        check_int("surrogate", "pool", pool, 1, 100_000)
        check_int("surrogate", "warmup", warmup, 0, 100_000)
        check_float("surrogate", "epsilon", epsilon, 0.0, 1.0)
        check_float("surrogate", "structure", structure, 0.0, 1e9)
        self.k, self.pool, self.epsilon, self.warmup = k, pool, float(epsilon), warmup
        self.structure = float(structure)
        self._cache: dict[Any, np.ndarray] = {}  # candidate -> features (recomputable, not state)
        self._rows: list[Candidate] = []  # candidates whose features fill _matrix, in tell order
        self._matrix: np.ndarray | None = None
        self._vocabulary: dict[Part, int] = {}  # part -> column of the parts matrix (recomputable)
        self._parts_cache: dict[Any, np.ndarray] = {}  # candidate -> its parts' columns, sorted

    def _features(self, candidate: Candidate) -> np.ndarray:
        cached = self._cache.get(candidate)
        if cached is None:
            cached = self._cache[candidate] = features(self.space, candidate)
        return cached

    def _propose(self, rng: random.Random) -> Candidate:
        if len(self._results) < self.warmup or rng.random() < self.epsilon:
            return self.space.sample(rng)
        pool = [self.space.sample(rng) for _ in range(self.pool)]
        predicted = self._predict(pool)
        # best predicted first; a stable sort keeps ties in sampling order (determinism)
        for i in np.argsort(-predicted, kind="stable").tolist():
            if fingerprint(self.space.to_expr(pool[i])) not in self._candidates:
                return pool[i]
        return self.space.sample(rng)  # the whole pool was proposed before: let the base retry

    def _train_matrix(self, told: list[tuple[Candidate, float | None]]) -> np.ndarray:
        # Results are only ever appended (in tell order), so the feature matrix grows by rows
        # instead of being restacked for every proposal (which made a 4,000-result run quadratic).
        rows = self._rows
        if len(rows) > len(told) or any(a is not b for a, b in zip(rows[-1:], [told[len(rows) - 1][0]], strict=False)):
            rows.clear()  # a reload or a foreign order: rebuild
        start = len(rows)
        rows.extend(c for c, _ in told[start:])
        matrix = self._matrix
        if matrix is None or start == 0 or matrix.shape[0] < len(rows):
            grown = np.empty((max(64, 2 * len(rows)), len(FEATURE_POINTS)))
            if matrix is not None and start:
                grown[:start] = matrix[:start]
            self._matrix = matrix = grown
        for i in range(start, len(rows)):
            matrix[i] = self._features(rows[i])
        return matrix[: len(rows)]

    def _part_ids(self, candidate: Candidate) -> np.ndarray:
        ids = self._parts_cache.get(candidate)
        if ids is None:
            vocabulary = self._vocabulary  # ids in order of first sight: distances do not depend on them
            found = [vocabulary.setdefault(part, len(vocabulary)) for part in parts(self.space.to_expr(candidate))]
            ids = self._parts_cache[candidate] = np.array(sorted(found), dtype=np.int64)
        return ids

    def _parts_matrix(self, candidates: list[Candidate]) -> sparse.csr_matrix:
        """One row per candidate, a 1 in the column of each of its parts."""
        ids = [self._part_ids(c) for c in candidates]
        indptr = np.zeros(len(ids) + 1, dtype=np.int64)
        np.cumsum([len(i) for i in ids], out=indptr[1:])
        indices = np.concatenate(ids) if ids else np.zeros(0, dtype=np.int64)
        return sparse.csr_matrix((np.ones(len(indices)), indices, indptr), shape=(len(ids), len(self._vocabulary)))

    def _predict(self, pool: list[Candidate]) -> np.ndarray:
        # the base keeps every told result (fingerprint -> fitness) with its candidate, in tell
        # order and through state_dict: the training set needs no state of its own
        told = [(self._candidates[key], f) for key, f in self._results.items()]
        trained = np.array([f is not None and np.isfinite(f) for _, f in told])
        if not trained.any():
            return np.zeros(len(pool))
        fitness = np.array([f if ok else 0.0 for (_, f), ok in zip(told, trained, strict=True)])
        worst = fitness[trained].min()
        x = np.stack([self._features(c) for c in pool])
        train = self._train_matrix(told)
        # squared distances as |a|^2 + |b|^2 - 2ab: a (pool x told x features) cube is too big
        distances = (x**2).sum(axis=1)[:, None] + (train**2).sum(axis=1)[None, :] - 2.0 * x @ train.T
        if self.structure:
            train_parts = self._parts_matrix(self._rows)  # the rows of train, in order
            pool_parts = self._parts_matrix(pool)
            train_parts.resize(train_parts.shape[0], pool_parts.shape[1])  # parts first seen in the pool
            shared = (pool_parts @ train_parts.T).toarray()
            own = np.asarray(pool_parts.sum(axis=1)).reshape(-1, 1) + np.asarray(train_parts.sum(axis=1)).reshape(1, -1)
            distances += self.structure * (own - 2.0 * shared)  # parts one has and the other lacks
        # Two questions, each for the k nearest: does it train (the share of them that did), and
        # how well if it does (the mean of the k nearest that trained). The prediction is the
        # expectation, rejection counting as the worst fitness told.
        p = trained[_nearest(distances, self.k)].mean(axis=1)
        ok = np.flatnonzero(trained)
        if_trained = fitness[ok][_nearest(distances[:, ok], self.k)].mean(axis=1)
        return np.asarray(p * if_trained + (1.0 - p) * worst)
