"""The language of candidates: operators, expressions, parser, identity, compiler, export."""

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
from space._torch import compile_function, compile_module, function_source, torch_source

__all__ = [
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
