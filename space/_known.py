"""Known activation functions, and naming the one a candidate equals.

"Three Decades of Activations" (Kunc & Kléma 2024) lists 400 published functions and warns that
unknowingly rediscovering one is common, so every candidate is checked against :data:`KNOWN`.

:func:`identify` works in two steps:

1. **Exact**: the candidate's fingerprint is looked up in a table of the non-parametric entries'
   fingerprints (built lazily, once).
2. **With β free**: for each parametric entry (fewest parameters first) its parameters are fitted
   by least squares so that its float64 values at the finite fingerprint points with |x| <= 5
   match the candidate's (the candidate's own β at their fingerprint values). A fit is accepted
   only if the values then agree on *all* fingerprint points, ±1e4 included, to a relative 1e-6
   (the 7 significant digits the fingerprint keeps; a tolerance rather than comparing rounded
   strings, which a 1e-15 fitting error could push across a rounding boundary).

Example:
    >>> from space import parse
    >>> identify(parse("x / (1 + exp(-x))")).function.name
    'SiLU'
    >>> m = identify(parse("x * sigmoid(2 * x)"))
    >>> m.function.name, round(m.params["beta"], 6)
    ('Swish', 2.0)
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, cast

import numpy as np
import scipy.optimize

from space._expr import Expr
from space._identity import (
    POINTS,
    ZERO_BELOW,
    canonical_text,
    evaluate,
    fingerprint,
    fingerprint_params,
    fingerprint_values,
)
from space._parse import parse

MATCH_RTOL = 1e-6  # the fingerprint keeps 7 significant digits
FIT_RANGE = 5.0  # fit where every published function is well conditioned; verify everywhere
SURVEY = (
    "Three Decades of Activations: A Comprehensive Survey of 400 Activation Functions for Neural Networks",
    "Kunc, Kléma",
    2024,
)


@dataclass(frozen=True)
class KnownFunction:
    """A published activation function, written in our grammar.

    Example:
        >>> known_by_name("Swish-1").name
        'SiLU'
    """

    name: str
    formula: str
    paper: str
    authors: str
    year: int
    aliases: tuple[str, ...] = ()
    note: str = ""

    @property
    def expr(self) -> Expr:
        return _parse_cached(self.formula)

    @property
    def parametric(self) -> bool:
        return bool(self.expr.params())

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "aliases": list(self.aliases),
            "formula": self.formula,
            "canonical": canonical_text(self.expr),
            "paper": self.paper,
            "authors": self.authors,
            "year": self.year,
            "parametric": self.parametric,
            "params": list(self.expr.params()),
            "note": self.note,
        }


@dataclass(frozen=True)
class KnownMatch:
    """A known function a candidate equals; ``params`` are the fitted values (empty if exact)."""

    function: KnownFunction
    # Read-only: identify() caches its matches, so they are shared.
    params: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    exact: bool = True

    @property
    def name(self) -> str:
        return self.function.name

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.function.name,
            "aliases": list(self.function.aliases),
            "exact": self.exact,
            "params": dict(self.params),
            "paper": self.function.paper,
            "year": self.function.year,
        }


def _k(
    name: str, formula: str, paper: str, authors: str, year: int, *aliases: str, note: str = ""
) -> KnownFunction:
    return KnownFunction(name, formula, paper, authors, year, tuple(aliases), note)


_SWISH = ("Searching for Activation Functions", "Ramachandran, Zoph, Le", 2017)
_GELU = ("Gaussian Error Linear Units (GELUs)", "Hendrycks, Gimpel", 2016)
_MOBILENET = ("Searching for MobileNetV3", "Howard et al.", 2019)
_ERFACT = (
    "ErfAct and Pserf: Non-monotonic Smooth Trainable Activation Functions",
    "Biswas, Kumar, Banerjee, Pandey",
    2021,
)
_APA = ("Adaptive Parametric Activation", "Alexandridis, Deng, Nguyen, Luo", 2024)
_SEARCH_TOP = "one of the top functions found by the search (validated on larger networks)"
_POPULAR = "not introduced here; the paper that popularised it for neural networks"

KNOWN: tuple[KnownFunction, ...] = (
    _k(
        "ReLU",
        "max(x, 0)",
        "Rectified Linear Units Improve Restricted Boltzmann Machines",
        "Nair, Hinton",
        2010,
        "rectifier",
    ),
    _k(
        "LeakyReLU",
        "max(x, 0.01*x)",
        "Rectifier Nonlinearities Improve Neural Network Acoustic Models",
        "Maas, Hannun, Ng",
        2013,
        "LReLU",
        note="negative slope 0.01",
    ),
    _k(
        "PReLU",
        "max(x, 0) + beta*min(x, 0)",
        "Delving Deep into Rectifiers: Surpassing Human-Level Performance on ImageNet Classification",
        "He, Zhang, Ren, Sun",
        2015,
        note="beta is the learned negative slope",
    ),
    _k(
        "ELU",
        "elu(x)",
        "Fast and Accurate Deep Network Learning by Exponential Linear Units (ELUs)",
        "Clevert, Unterthiner, Hochreiter",
        2015,
        "CELU (alpha=1)",
        note="alpha = 1",
    ),
    _k(
        "CELU",
        "max(x, 0) + min(beta*(exp(x/beta) - 1), 0)",
        "Continuously Differentiable Exponential Linear Units",
        "Barron",
        2017,
        note="beta is alpha; alpha = 1 is ELU",
    ),
    _k(
        "PELU",
        "beta1/beta2*max(x, 0) + beta1*(exp(min(x, 0)/beta2) - 1)",
        "Parametric Exponential Linear Unit for Deep Convolutional Neural Networks",
        "Trottier, Giguère, Chaib-draa",
        2017,
        note="beta1 = a, beta2 = b",
    ),
    _k(
        "SELU",
        "selu(x)",
        "Self-Normalizing Neural Networks",
        "Klambauer, Unterthiner, Mayr, Hochreiter",
        2017,
    ),
    _k("GELU", "gelu(x)", *_GELU, note="exact form x * Phi(x)"),
    _k("GELU (tanh approximation)", "0.5*x*(1 + tanh(sqrt(2/pi)*(x + 0.044715*x^3)))", *_GELU, "gelu_new"),
    _k("GELU (sigmoid approximation)", "x*sigmoid(1.702*x)", *_GELU, "QuickGELU"),
    _k(
        "SiLU",
        "x*sigmoid(x)",
        "Sigmoid-Weighted Linear Units for Neural Network Function Approximation in Reinforcement Learning",
        "Elfwing, Uchibe, Doya",
        2017,
        "Swish-1",
        "SiL",
    ),
    _k("Swish", "x*sigmoid(beta*x)", *_SWISH, "Swish-beta", note="beta = 1 is SiLU"),
    _k(
        "E-swish",
        "beta*x*sigmoid(x)",
        "E-swish: Adjusting Activations to Different Network Depths",
        "Alcaide",
        2018,
    ),
    _k(
        "dSiLU",
        "sigmoid(x)*(1 + x*(1 - sigmoid(x)))",
        "Sigmoid-Weighted Linear Units for Neural Network Function Approximation in Reinforcement Learning",
        "Elfwing, Uchibe, Doya",
        2017,
        note="the derivative of SiLU",
    ),
    _k(
        "Mish",
        "x*tanh(softplus(x))",
        "Mish: A Self Regularized Non-Monotonic Activation Function",
        "Misra",
        2019,
    ),
    _k(
        "Softplus",
        "softplus(x)",
        "Incorporating Second-Order Functional Knowledge for Better Option Pricing",
        "Dugas, Bengio, Bélisle, Nadeau, Garcia",
        2001,
    ),
    _k(
        "Softsign",
        "softsign(x)",
        "Quadratic Features and Deep Architectures for Chunking",
        "Turian, Bergstra, Bengio",
        2009,
        "Elliott",
        note="x/(1+|x|) is Elliott's 1993 function; this paper named it softsign",
    ),
    _k(
        "Tanh",
        "tanh(x)",
        "Efficient BackProp",
        "LeCun, Bottou, Orr, Müller",
        1998,
        "hyperbolic tangent",
        note=_POPULAR,
    ),
    _k(
        "Sigmoid",
        "sigmoid(x)",
        "Learning Representations by Back-Propagating Errors",
        "Rumelhart, Hinton, Williams",
        1986,
        "logistic",
        note=_POPULAR,
    ),
    _k("Hard sigmoid", "hardsigmoid(x)", *_MOBILENET, "h-sigmoid", note="relu6(x + 3) / 6"),
    _k(
        "Hard sigmoid (BinaryConnect)",
        "max(0, min(1, (x + 1)/2))",
        "BinaryConnect: Training Deep Neural Networks with Binary Weights during Propagations",
        "Courbariaux, Bengio, David",
        2015,
    ),
    _k("Hard swish", "hardswish(x)", *_MOBILENET, "h-swish"),
    _k(
        "Hard tanh",
        "max(-1, min(1, x))",
        "Large Scale Machine Learning (PhD thesis)",
        "Collobert",
        2004,
        "HardTanh",
    ),
    _k("ReLU6", "min(max(x, 0), 6)", "Convolutional Deep Belief Networks on CIFAR-10", "Krizhevsky", 2010),
    _k(
        "Penalized tanh",
        "max(tanh(x), 0.25*tanh(x))",
        "Revise Saturated Activation Functions",
        "Xu, Huang, Li",
        2016,
    ),
    _k(
        "Snake",
        "x + sin(x)^2",
        "Neural Networks Fail to Learn Periodic Functions and How to Fix It",
        "Ziyin, Hartwig, Ueda",
        2020,
        note="a = 1",
    ),
    _k(
        "Snake (a)",
        "x + sin(beta*x)^2/beta",
        "Neural Networks Fail to Learn Periodic Functions and How to Fix It",
        "Ziyin, Hartwig, Ueda",
        2020,
        note="beta is the frequency a",
    ),
    _k(
        "Sine",
        "sin(x)",
        "Taming the Waves: Sine as Activation Function in Deep Neural Networks",
        "Parascandolo, Huttunen, Virtanen",
        2016,
    ),
    _k(
        "SIREN sine",
        "sin(beta*x)",
        "Implicit Neural Representations with Periodic Activation Functions",
        "Sitzmann, Martel, Bergman, Lindell, Wetzstein",
        2020,
        note="the paper fixes beta = omega_0 = 30",
    ),
    _k("Sinc", "sinc(x)", *SURVEY, note="of unclear first use; listed by the survey"),
    _k(
        "Gaussian",
        "exp(-x^2)",
        "Multivariable Functional Interpolation and Adaptive Networks",
        "Broomhead, Lowe",
        1988,
        note="the radial basis function",
    ),
    _k(
        "Tempered sigmoid",
        "beta1*sigmoid(beta2*x) - beta3",
        "Tempered Sigmoid Activations for Deep Learning with Differential Privacy",
        "Papernot, Thakurta, Song, Chien, Erlingsson",
        2020,
        note="beta1 = scale s, beta2 = inverse temperature T, beta3 = offset o",
    ),
    _k(
        "Squared ReLU",
        "max(x, 0)^2",
        "Primer: Searching for Efficient Transformers for Language Modeling",
        "So, Mańke, Liu, Dai, Shazeer, Le",
        2021,
        "ReLU^2",
    ),
    _k("Identity", "x", "Adaptive Switching Circuits", "Widrow, Hoff", 1960, "linear", note=_POPULAR),
    _k(
        "Absolute value",
        "abs(x)",
        "What is the Best Multi-Stage Architecture for Object Recognition?",
        "Jarrett, Kavukcuoglu, Ranzato, LeCun",
        2009,
        "abs",
    ),
    _k(
        "Quadratic",
        "x^2",
        "On the Computational Efficiency of Training Neural Networks",
        "Livni, Shalev-Shwartz, Shamir",
        2014,
        "square",
    ),
    _k(
        "Cube",
        "x^3",
        "A Fast and Accurate Dependency Parser using Neural Networks",
        "Chen, Manning",
        2014,
        "cubic",
    ),
    _k(
        "PolyReLU (order 3)",
        "beta + beta1*max(x, 0) + beta2*max(x, 0)^2 + beta3*max(x, 0)^3",
        "Polynomial Composition Activations: Unleashing the Dynamics of Large Language Models",
        "Zhuo et al.",
        2024,
        "PolyCom",
        note="sum of a_i relu(x)^i, i = 0..3",
    ),
    _k(
        "Cauchy activation",
        "(beta1*x + beta2)/(x^2 + beta3^2)",
        "Cauchy Activation Function and XNet",
        "Li, Xia, Zhang",
        2024,
        "XNet",
        note="beta1 = lambda1, beta2 = lambda2, beta3 = d",
    ),
    _k(
        "APA",
        "exp(-softplus(log(beta2) - beta1*x)/beta2)",
        *_APA,
        note="(lambda exp(-kappa x) + 1)^(-1/lambda) with beta1 = kappa, beta2 = lambda > 0; "
        "kappa = lambda = 1 is the sigmoid",
    ),
    _k(
        "AGLU",
        "x*exp(-softplus(log(beta2) - beta1*x)/beta2)",
        *_APA,
        note="x * APA(x); kappa = lambda = 1 is SiLU",
    ),
    _k(
        "CRReLU",
        "max(x, 0) + beta*x*exp(-x^2/2)",
        "Entropy-Based Activation Function Optimization: A Method on Searching Better Activation Functions",
        "Sun et al.",
        2024,
        "Correction Regularized ReLU",
        note="beta is epsilon, initialised to 0.01",
    ),
    _k("max(x, sigmoid(x))", "max(x, sigmoid(x))", *_SWISH, note=_SEARCH_TOP),
    _k("cos(x) - x", "cos(x) - x", *_SWISH, note=_SEARCH_TOP),
    _k("min(x, sin(x))", "min(x, sin(x))", *_SWISH, note=_SEARCH_TOP),
    _k("atan(x)^2 - x", "atan(x)^2 - x", *_SWISH, note=_SEARCH_TOP),
    _k("max(x, tanh(x))", "max(x, tanh(x))", *_SWISH, note=_SEARCH_TOP),
    _k("sinc(x) + x", "sinc(x) + x", *_SWISH, note=_SEARCH_TOP),
    _k("x * asinh(x)^2", "x*asinh(x)^2", *_SWISH, note=_SEARCH_TOP),
    _k(
        "LiSHT",
        "x*tanh(x)",
        "LiSHT: Non-Parametric Linearly Scaled Hyperbolic Tangent Activation Function for Neural Networks",
        "Roy, Manna, Dubey, Chaudhuri",
        2019,
    ),
    _k(
        "Soft exponential",
        "(exp(beta*x) - 1)/beta + beta",
        "A Continuum among Logarithmic, "
        "Linear, and Exponential Functions, and Its Potential to Improve Generalization in Neural "
        "Networks",
        "Godfrey, Gashler",
        2015,
        note="the alpha > 0 branch, beta = alpha",
    ),
    _k(
        "Bent identity",
        "(sqrt(x^2 + 1) - 1)/2 + x",
        *SURVEY,
        note="of unclear first use; listed by the survey",
    ),
    _k(
        "ISRU",
        "x/sqrt(1 + beta*x^2)",
        "Improving Deep Learning by Inverse Square Root Linear Units (ISRLUs)",
        "Carlile, Delamarter, Kinney, Marti, Whitney",
        2017,
        note="beta = alpha",
    ),
    _k(
        "ISRLU",
        "max(x, 0) + min(x, 0)/sqrt(1 + beta*min(x, 0)^2)",
        "Improving Deep Learning by Inverse Square Root Linear Units (ISRLUs)",
        "Carlile, Delamarter, Kinney, Marti, Whitney",
        2017,
        note="beta = alpha",
    ),
    _k(
        "TanhExp",
        "x*tanh(exp(x))",
        "TanhExp: A Smooth Activation Function with High Convergence Speed for Lightweight Neural Networks",
        "Liu, Di",
        2020,
    ),
    _k(
        "Logish",
        "x*log(1 + sigmoid(x))",
        "Logish: A New Nonlinear Nonmonotonic Activation Function for Convolutional Neural Network",
        "Zhu, Zeng, et al.",
        2021,
    ),
    _k(
        "Smish",
        "x*tanh(log(1 + sigmoid(x)))",
        "Smish: A Novel Activation Function for Deep Learning Methods",
        "Wang, Ren, Wang",
        2022,
    ),
    _k(
        "Serf",
        "x*erf(softplus(x))",
        "SERF: Towards Better Training of Deep Neural Networks Using Log-Softplus ERror Activation Function",
        "Nag, Bhattacharyya",
        2021,
    ),
    _k(
        "Pserf", "x*erf(beta1*softplus(beta2*x))", *_ERFACT, note="beta1 = gamma, beta2 = delta; 1, 1 is Serf"
    ),
    _k("ErfAct", "x*erf(beta1*exp(beta2*x))", *_ERFACT, note="beta1 = alpha, beta2 = beta"),
    _k(
        "GCU",
        "x*cos(x)",
        "Growing Cosine Unit: A Novel Oscillatory Activation Function That "
        "Can Speedup Training and Reduce Parameters in Convolutional Neural Networks",
        "Noel, Trivedi, Bharadwaj, Dutta",
        2021,
        "Growing Cosine Unit",
    ),
    _k("Phish", "x*tanh(gelu(x))", "Phish: A Novel Hyper-Optimizable Activation Function", "Naveen", 2022),
    _k(
        "ELiSH",
        "sigmoid(x)*(max(x, 0) + exp(min(x, 0)) - 1)",
        "The Quest for the Golden Activation Function",
        "Basirat, Roth",
        2018,
        note="x sigmoid(x) for x >= 0, (exp(x) - 1) sigmoid(x) below",
    ),
    _k(
        "NLReLU",
        "log(1 + beta*max(x, 0))",
        "Natural-Logarithm-Rectified Activation Function in Convolutional Neural Networks",
        "Liu, Zeng, et al.",
        2019,
    ),
    _k(
        "SinLU",
        "(x + beta1*sin(beta2*x))*sigmoid(x)",
        "SinLU: Sinu-Sigmoidal Linear Unit",
        "Paul, Bandyopadhyay, Sarkar",
        2022,
        note="beta1 = a, beta2 = b",
    ),
    _k(
        "GoLU",
        "x*exp(-exp(-x))",
        "Gompertz Linear Units: Leveraging Asymmetry for Enhanced Learning Dynamics",
        "Das, Safari, Adriaensen, Hutter",
        2025,
        "Gompertz Linear Unit",
    ),
    _k(
        "Squareplus",
        "(x + sqrt(x^2 + beta))/2",
        "Squareplus: A Softplus-Like Algebraic Rectifier",
        "Barron",
        2021,
        note="beta = b",
    ),
)


@functools.cache
def _parse_cached(formula: str) -> Expr:
    return parse(formula)


@functools.lru_cache(maxsize=1)
def _by_name() -> dict[str, KnownFunction]:
    table: dict[str, KnownFunction] = {}
    for fn in KNOWN:
        for name in (fn.name, *fn.aliases):
            table.setdefault(name.casefold(), fn)
    return table


def known_by_name(name: str) -> KnownFunction:
    """The entry called ``name`` or with that alias (case-insensitive); ``KeyError`` otherwise."""
    try:
        return _by_name()[name.casefold()]
    except KeyError:
        raise KeyError(f"no known activation function called {name!r}") from None


@functools.lru_cache(maxsize=1)
def _exact_table() -> dict[str, KnownFunction]:
    table: dict[str, KnownFunction] = {}
    for fn in KNOWN:
        if not fn.parametric:
            table.setdefault(fingerprint(fn.expr), fn)
    return table


@functools.lru_cache(maxsize=1)
def _parametric() -> tuple[KnownFunction, ...]:
    # Fewest parameters first: x*sigmoid(2x) is Swish (beta = 2) rather than AGLU (2, 1).
    return tuple(sorted((f for f in KNOWN if f.parametric), key=lambda f: len(f.expr.params())))


# One parameter is cheap: scan scales and signs densely (a periodic Snake needs it).
_AXIS_1 = (
    -3.0,
    -1.0,
    -0.3,
    -0.1,
    -0.01,
    0.01,
    0.03,
    0.1,
    0.2,
    0.3,
    0.5,
    0.7,
    1.0,
    1.5,
    2.0,
    3.0,
    5.0,
    10.0,
    30.0,
)


def _start_grid(n: int) -> np.ndarray:
    """Starting parameter vectors for a fit of ``n`` parameters (one per row)."""
    per_axis = {
        1: _AXIS_1,
        2: (-1.0, -0.2, 0.05, 0.2, 0.5, 1.0, 1.5, 2.0, 3.0, 6.0),
        3: (-1.0, 0.1, 0.5, 1.0, 2.0, 5.0),
    }.get(n, (-1.0, 0.1, 1.0, 3.0))
    return np.array(list(itertools.product(per_axis, repeat=n)))


def _entry_values(fn: KnownFunction, x: np.ndarray, params: np.ndarray) -> np.ndarray:
    """Values of ``fn`` at ``x`` for each row of ``params`` (shape: rows × len(x))."""
    names = fn.expr.params()
    grid_x = np.broadcast_to(x, (params.shape[0], x.size))
    # evaluate() fills parameters with np.full_like, which broadcasts a column of values: one
    # vectorized call evaluates every starting point.
    values = {name: params[:, i : i + 1] for i, name in enumerate(names)}
    return evaluate(fn.expr, grid_x, cast(Mapping[str, float], values))


def _close(a: np.ndarray, b: np.ndarray) -> bool:
    with np.errstate(invalid="ignore"):
        same_special = np.array_equal(np.isnan(a), np.isnan(b)) and np.array_equal(
            np.where(np.isinf(a), a, 0.0), np.where(np.isinf(b), b, 0.0)
        )
        if not same_special:
            return False
        ok = np.isfinite(a)
        diff = np.abs(a[ok] - b[ok])
        return bool(np.all(diff <= MATCH_RTOL * np.maximum(np.abs(a[ok]), np.abs(b[ok])) + ZERO_BELOW))


def _fit_indices() -> np.ndarray:
    inside = np.flatnonzero(np.abs(POINTS) <= FIT_RANGE)
    inside = inside[np.unique(POINTS[inside], return_index=True)[1]]  # sorted by x, no repeats
    # 64 points spread over [-5, 5] pin down 1 to 4 parameters; all points verify the fit.
    return inside[np.linspace(0, inside.size - 1, 64).round().astype(int)]


_FIT_INDICES = _fit_indices()


def _fit(fn: KnownFunction, target: np.ndarray) -> dict[str, float] | None:
    """Parameters of ``fn`` reproducing ``target`` (values at :data:`POINTS`), or ``None``."""
    with np.errstate(all="ignore"):  # trial parameters overflow freely; residuals are capped
        return _fit_unguarded(fn, target)


def _fit_unguarded(fn: KnownFunction, target: np.ndarray) -> dict[str, float] | None:
    x, y = POINTS[_FIT_INDICES], target[_FIT_INDICES]
    x, y = x[np.isfinite(y)], y[np.isfinite(y)]
    weight = 1.0 / (1.0 + np.abs(y))  # relative error for large values, absolute near 0
    names = fn.expr.params()

    def residuals(rows: np.ndarray) -> np.ndarray:
        r = (_entry_values(fn, x, rows) - y) * weight
        return np.nan_to_num(r, nan=1e6, posinf=1e6, neginf=1e6)

    def jacobian(p: np.ndarray) -> np.ndarray:
        # Central differences for every parameter in one vectorized evaluation.
        h = 1e-6 * np.maximum(1.0, np.abs(p))
        steps = np.diag(h)
        r = residuals(np.vstack([p + steps, p - steps]))
        return ((r[: p.size] - r[p.size :]) / (2 * h[:, None])).T

    fp = fingerprint_params(fn.expr)
    starts = np.vstack([_start_grid(len(names)), [fp[n] for n in names]])
    err = np.sum(residuals(starts) ** 2, axis=1)
    for i in np.argsort(err, kind="stable")[:2]:
        sol = scipy.optimize.least_squares(
            lambda p: residuals(p[None, :])[0],
            starts[i],
            jac=jacobian,
            method="lm",
            xtol=1e-15,
            ftol=1e-15,
            gtol=1e-15,
            max_nfev=30 * (len(names) + 1),
        )
        if _close(evaluate(fn.expr, POINTS, dict(zip(names, sol.x, strict=True))), target):
            # 12 digits and an exact 0 for a vanished term: the fit is exact only to ~1e-15.
            return {
                n: float(f"{v:.12g}") if abs(v) > 1e-12 else 0.0 for n, v in zip(names, sol.x, strict=True)
            }
    return None


def _candidate_values(expr: Expr) -> np.ndarray | None:
    values = fingerprint_values(expr)
    finite = values[np.isfinite(values)]
    # A constant is no activation function, though degenerate parameters (a tempered sigmoid
    # with scale 0) would reproduce it.
    if finite.size == 0 or np.ptp(finite) == 0.0:
        return None
    return values


def identify_exact(expr: Expr) -> KnownMatch | None:
    """The parameter-free known function ``expr`` equals, by fingerprint only: a dictionary
    lookup, cheap enough for every candidate (:func:`identify` also fits parameters)."""
    exact = _exact_table().get(fingerprint(expr))
    return None if exact is None else KnownMatch(exact)


@functools.lru_cache(maxsize=8192)
def identify(expr: Expr) -> KnownMatch | None:
    """The known function ``expr`` equals: exactly, else with its parameters fitted; or None."""
    exact = identify_exact(expr)
    if exact is not None:
        return exact
    target = _candidate_values(expr)
    if target is None:
        return None
    for fn in _parametric():
        params = _fit(fn, target)
        if params is not None:
            return KnownMatch(fn, MappingProxyType(params), exact=False)
    return None


def identify_all(expr: Expr) -> tuple[KnownMatch, ...]:
    """Every match: the exact one first, then each parametric entry that fits."""
    out: list[KnownMatch] = []
    exact = _exact_table().get(fingerprint(expr))
    if exact is not None:
        out.append(KnownMatch(exact))
    target = _candidate_values(expr)
    if target is not None:
        for fn in _parametric():
            params = _fit(fn, target)
            if params is not None:
                out.append(KnownMatch(fn, MappingProxyType(params), exact=False))
    return tuple(out)
