"""Expressions: what the service makes of a formula, before any search."""

from __future__ import annotations

import anyio
import anyio.to_thread
from fastapi import APIRouter

from api._analyze import AnalysisError, Analyzer
from api._auth import CurrentToken
from api._deps import AnalyzerDep
from api._errors import Invalid, bad_text, jsonable
from api._schemas import Message, ParseRequest, ParseResult, ValidationErrors

router = APIRouter(prefix="/expressions", tags=["expressions"], responses={
    401: {"model": Message, "description": "missing, invalid or revoked token"},
    422: {"model": ValidationErrors, "description": "the expression does not parse; `msg` says where"},
})


# Describing waits up to ACTSEARCH_PARSE_SECONDS on sympy (one child process, one at a time):
# in threads of its own, so that slow parses never hold the small pool the other routes share.
_PARSE_THREADS = anyio.CapacityLimiter(8)


@router.post("/parse", operation_id="parse_expression", response_model=ParseResult)
async def parse_expression(request: ParseRequest, principal: CurrentToken, analyzer: AnalyzerDep) -> ParseResult:
    """Canonical form, LaTeX, known-as, properties and fingerprint of an expression."""
    return await anyio.to_thread.run_sync(_parse, request, analyzer, limiter=_PARSE_THREADS)


def _parse(request: ParseRequest, analyzer: Analyzer) -> ParseResult:
    from space import ParseError, parse

    loc = ["body", "expression"]
    found = bad_text(request.expression)
    if found is not None:
        raise Invalid(loc, found[1])
    try:
        parse(request.expression)  # fast, and its message points at the column
    except ParseError as exc:
        raise Invalid(loc, f"{exc}\n{exc.pointer()}", "parse_error") from None
    try:
        info = analyzer.describe(request.expression)
    except AnalysisError as exc:
        raise Invalid(loc, str(exc), exc.kind) from None
    return ParseResult(**jsonable(info))
