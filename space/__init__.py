"""The language of candidates: operators, expressions, parser, identity, compiler, export."""

from space._c_form import CHelper, COp, c_unary
from space._c_source import C_MAX_PARAMS, C_OPERATORS, c_supported, population_source
from space._child_process import ChildProcess, serve_requests
from space._core import Unit
from space._cuda_source import CUDA_MAX_SLOTS, cuda_supported, population_cuda_source
from space._describe import describe
from space._export import EXPORT_FORMATS, export
from space._export_jax import jax_source
from space._export_latex import latex_canonical, to_latex
from space._export_numpy import numpy_source
from space._export_sympy import sympy_source
from space._expr import MAX_EXPONENT, Expr, ExprError, X, call, const, param
from space._identity import (
    POINTS,
    canonical,
    canonical_text,
    equivalent,
    evaluate,
    fingerprint,
    fingerprint_values,
    to_sympy,
)
from space._known import (
    KNOWN,
    KnownFunction,
    KnownMatch,
    identify,
    identify_all,
    identify_exact,
    known_by_name,
)
from space._operators import (
    BINARY,
    OPERATORS,
    SWISH_PAPER_BINARY,
    SWISH_PAPER_UNARY,
    UNARY,
    Operator,
    get_operator,
)
from space._parse import MAX_LENGTH, ParseError, parse
from space._plugins import PLUGINS_ENV, PluginError, load_plugins
from space._properties import Properties, properties
from space._space import Candidate, Space, SpaceError
from space._torch import compile_function, compile_module, function_source, torch_source

__all__ = [
    "C_MAX_PARAMS",
    "C_OPERATORS",
    "CHelper",
    "COp",
    "c_unary",
    "c_supported",
    "population_source",
    "population_cuda_source",
    "cuda_supported",
    "CUDA_MAX_SLOTS",
    "EXPORT_FORMATS",
    "KNOWN",
    "Candidate",
    "ChildProcess",
    "KnownFunction",
    "KnownMatch",
    "Properties",
    "Space",
    "SpaceError",
    "Unit",
    "describe",
    "export",
    "identify",
    "identify_all",
    "identify_exact",
    "jax_source",
    "known_by_name",
    "latex_canonical",
    "numpy_source",
    "properties",
    "serve_requests",
    "sympy_source",
    "to_latex",
    "BINARY",
    "MAX_EXPONENT",
    "MAX_LENGTH",
    "OPERATORS",
    "POINTS",
    "SWISH_PAPER_BINARY",
    "SWISH_PAPER_UNARY",
    "UNARY",
    "X",
    "Expr",
    "ExprError",
    "Operator",
    "ParseError",
    "PLUGINS_ENV",
    "PluginError",
    "load_plugins",
    "call",
    "canonical",
    "canonical_text",
    "compile_function",
    "compile_module",
    "const",
    "equivalent",
    "evaluate",
    "fingerprint",
    "fingerprint_values",
    "function_source",
    "get_operator",
    "param",
    "parse",
    "to_sympy",
    "torch_source",
]
