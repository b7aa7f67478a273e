"""Parse ordinary math text into an expression, by our own grammar.

User text never reaches ``eval``, ``exec`` or ``sympy.sympify``: a tokenizer accepts numbers,
names and ``+ - * / ^ ** ( ) ,`` only; names must be ``x``, a parameter (``beta``, ``beta1``…),
a constant (``pi``, ``e``) or a known function. Grammar::

    expr   := term (("+" | "-") term)*
    term   := factor (("*" | "/") factor)*
    factor := ("-" | "+") factor | power
    power  := atom (("^" | "**") ["-" | "+"] INTEGER)?        # also ^(-2)
    atom   := NUMBER | NAME | NAME "(" expr ("," expr)* ")" | "(" expr ")"

Errors are :class:`ParseError` with the column and what was expected. Limits: text length,
nesting depth, node count and exponent size.

Example:
    >>> str(parse("x / (1 + exp(-x))"))
    'x / (1 + exp(-x))'
    >>> str(parse("log(1 + exp(x))"))
    'softplus(x)'
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from space._expr import MAX_EXPONENT, PARAM_NAME, Expr, ExprError, X, call, const, param
from space._operators import OPERATORS
from space._rewrite import normalize

MAX_LENGTH = 1000
MAX_DEPTH = 40
MAX_NODES = 300

ALIASES = {"log": "log_abs", "ln": "log_abs", "identity": "x"}
CONSTANTS = {"pi": math.pi, "e": math.e}
_TOKEN = re.compile(
    r"\s*(?:(?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<op>\*\*|[-+*/^(),]))"
)


class ParseError(ValueError):
    """Text that is not an expression; ``position`` is the 0-based column of the problem."""

    def __init__(self, message: str, position: int, text: str = "") -> None:
        self.message = message
        self.position = position
        self.text = text
        super().__init__(f"column {position + 1}: {message}")

    def pointer(self) -> str:
        """The text with a caret under the offending column (for terminals)."""
        snippet = self.text[:120]
        return f"{snippet}\n{' ' * min(self.position, len(snippet))}^"


@dataclass(frozen=True)
class _Token:
    kind: str  # "num", "name", "op" or "end"
    text: str
    pos: int


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            bad = text[pos:].lstrip()[:1]
            at = pos + len(text[pos:]) - len(text[pos:].lstrip())
            raise ParseError(f"unexpected character {bad!r}", at, text)
        kind = m.lastgroup or "op"
        tokens.append(_Token(kind, m.group(kind), m.start(kind)))
        pos = m.end()
    tokens.append(_Token("end", "", len(text)))
    return tokens


def parse(text: str) -> Expr:
    """Parses ``text`` into a normalized expression; raises :class:`ParseError`."""
    if not isinstance(text, str):
        raise ParseError(f"expected text, got {type(text).__name__}", 0)
    if len(text) > MAX_LENGTH:
        raise ParseError(f"expression is {len(text)} characters long; the limit is {MAX_LENGTH}", MAX_LENGTH, text[:MAX_LENGTH])
    if not text.strip():
        raise ParseError("empty expression", 0, text)
    parser = _Parser(text, _tokenize(text))
    expr = parser.expr(0)
    parser.expect_end()
    expr = normalize(expr)
    if expr.size > MAX_NODES:
        raise ParseError(f"expression has {expr.size} nodes; the limit is {MAX_NODES}", 0, text)
    if expr.depth > MAX_DEPTH:
        raise ParseError(f"expression is {expr.depth} levels deep; the limit is {MAX_DEPTH}", 0, text)
    return expr


class _Parser:
    def __init__(self, text: str, tokens: list[_Token]) -> None:
        self.text = text
        self.tokens = tokens
        self.i = 0

    # -- token helpers
    @property
    def tok(self) -> _Token:
        return self.tokens[self.i]

    def error(self, message: str, tok: _Token | None = None) -> ParseError:
        tok = tok or self.tok
        found = "end of input" if tok.kind == "end" else repr(tok.text)
        return ParseError(f"{message}, found {found}", tok.pos, self.text)

    def take(self, *ops: str) -> _Token | None:
        if self.tok.kind == "op" and self.tok.text in ops:
            self.i += 1
            return self.tokens[self.i - 1]
        return None

    def expect(self, op: str, what: str) -> None:
        if self.take(op) is None:
            raise self.error(f"expected {what}")

    def expect_end(self) -> None:
        if self.tok.kind != "end":
            raise self.error("expected an operator (+ - * / ^) or the end of the expression")

    def build(self, tok: _Token, op: str, *args: Expr, **kw: object) -> Expr:
        try:
            return call(op, *args, **kw)  # type: ignore[arg-type]
        except ExprError as exc:
            raise ParseError(str(exc), tok.pos, self.text) from None

    def check_depth(self, depth: int) -> None:
        if depth > MAX_DEPTH:
            raise self.error(f"nesting deeper than {MAX_DEPTH} levels")

    # -- grammar
    def expr(self, depth: int) -> Expr:
        self.check_depth(depth)
        left = self.term(depth)
        while (tok := self.take("+", "-")) is not None:
            right = self.term(depth)
            left = self.build(tok, "add" if tok.text == "+" else "sub", left, right)
        return left

    def term(self, depth: int) -> Expr:
        left = self.factor(depth)
        while (tok := self.take("*", "/")) is not None:
            right = self.factor(depth)
            left = self.build(tok, "mul" if tok.text == "*" else "div", left, right)
        return left

    def factor(self, depth: int) -> Expr:
        self.check_depth(depth)
        if (tok := self.take("-")) is not None:
            inner = self.factor(depth + 1)
            if inner.op == "neg":
                return inner.args[0]
            return self.build(tok, "neg", inner)
        if self.take("+") is not None:
            return self.factor(depth + 1)
        return self.power(depth)

    def power(self, depth: int) -> Expr:
        base = self.atom(depth)
        tok = self.take("^", "**")
        if tok is None:
            return base
        return self.raise_to(tok, base, self.exponent())

    def exponent(self) -> int:
        paren = self.take("(") is not None
        sign = -1 if self.take("-") is not None else 1
        if sign == 1:
            self.take("+")
        tok = self.tok
        if tok.kind != "num" or not tok.text.isdigit():
            raise self.error("expected an integer exponent")
        self.i += 1
        if paren:
            self.expect(")", "')' after the exponent")
        n = int(tok.text[:12])
        if len(tok.text) > 12 or n > MAX_EXPONENT:
            raise ParseError(f"exponent {tok.text[:20]} is too large; |n| <= {MAX_EXPONENT}", tok.pos, self.text)
        return sign * n

    def raise_to(self, tok: _Token, base: Expr, n: int) -> Expr:
        if n < 0:
            return self.build(tok, "div", const(1.0), self.raise_to(tok, base, -n))
        if n == 0:
            return const(1.0)
        if n == 1:
            return base
        names = {2: "square", 3: "cube"}
        if n in names:
            return self.build(tok, names[n], base)
        return self.build(tok, "powi", base, exponent=n)

    def atom(self, depth: int) -> Expr:
        tok = self.tok
        if tok.kind == "num":
            self.i += 1
            value = float(tok.text)
            try:
                return const(value)
            except ExprError as exc:
                raise ParseError(str(exc), tok.pos, self.text) from None
        if tok.kind == "name":
            self.i += 1
            if self.tok.kind == "op" and self.tok.text == "(":
                return self.call(tok, depth)
            if tok.text == "x":
                return X
            if PARAM_NAME.fullmatch(tok.text):
                return param(tok.text)
            if tok.text in CONSTANTS:
                return const(CONSTANTS[tok.text])
            raise ParseError(
                f"unknown name {tok.text!r}; expected x, beta, beta1…, pi, e or a function call",
                tok.pos,
                self.text,
            )
        if self.take("(") is not None:
            inner = self.expr(depth + 1)
            self.expect(")", "')'")
            return inner
        raise self.error("expected a number, x, a parameter, a function call or '('")

    def call(self, name_tok: _Token, depth: int) -> Expr:
        name = ALIASES.get(name_tok.text, name_tok.text)
        spec = OPERATORS.get(name)
        if spec is None or not spec.searchable:
            known = ", ".join(sorted(n for n, o in OPERATORS.items() if o.searchable))
            raise ParseError(f"unknown function {name_tok.text!r}; known: {known}, log", name_tok.pos, self.text)
        self.expect("(", "'('")
        args = [self.expr(depth + 1)]
        while self.take(",") is not None:
            args.append(self.expr(depth + 1))
        self.expect(")", f"',' or ')' closing {name_tok.text}(")
        pname = None
        if spec.has_beta and len(args) == spec.arity + 1:
            last = args.pop()
            if last.op != "param":
                raise ParseError(f"the extra argument of {name} must be a parameter name like beta1", name_tok.pos, self.text)
            pname = last.param
        if len(args) != spec.arity:
            extra = " (plus an optional parameter name)" if spec.has_beta else ""
            raise ParseError(f"{name} takes {spec.arity} argument(s){extra}, got {len(args)}", name_tok.pos, self.text)
        return self.build(name_tok, name, *args, param=pname)
