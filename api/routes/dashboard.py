"""The web dashboard: its static files at ``/``, and the few API operations it needs beyond
the resources' own (curves to plot, the size of a space, a job's aggregates).

The page itself needs no token; everything it shows comes through the authenticated API, so
the HTML and scripts hold no data. Scripts are served from this process only (no CDN), and a
Content-Security-Policy keeps it that way.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, Query
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from api._auth import CurrentToken, owned_candidate, owned_job
from api._deps import DatabaseDep
from api._errors import Invalid, bad_text
from api._schemas import Message, ValidationErrors
from api.routes.candidates import CandidateId, _expr
from api.routes.jobs import JobId

# api.app imports this module, so its API_PREFIX cannot be imported here; they must agree.
API_PREFIX = "/api/v1"
STATIC = Path(__file__).resolve().parent.parent / "dashboard"
MEDIA_TYPES = {".html": "text/html; charset=utf-8", ".css": "text/css; charset=utf-8",
               ".js": "text/javascript; charset=utf-8", ".svg": "image/svg+xml", ".png": "image/png",
               ".ico": "image/x-icon", ".woff2": "font/woff2"}
# 'self' only: the dashboard must work offline, and an injected script could read the token.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
PAGE_HEADERS = {"Content-Security-Policy": CSP, "Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff",
                "Cache-Control": "no-cache"}

pages = APIRouter(include_in_schema=False)
api = APIRouter(tags=["dashboard"], responses={
    401: {"model": Message, "description": "missing, invalid or revoked token"},
    422: {"model": ValidationErrors, "description": "invalid input; `loc` names the field"},
})


def _static_files() -> dict[str, Path]:
    """Servable files by their path under ``/static/``; a fixed table, so no request path ever
    reaches the file system."""
    return {path.relative_to(STATIC).as_posix(): path for path in sorted(STATIC.rglob("*"))
            if path.is_file() and path.suffix in MEDIA_TYPES}


FILES = _static_files()


@pages.get("/")
def index() -> FileResponse:
    return FileResponse(STATIC / "index.html", media_type=MEDIA_TYPES[".html"], headers=PAGE_HEADERS)


@pages.get("/static/{name:path}")
def static_file(name: str) -> FileResponse:
    path = FILES.get(name)
    if path is None:
        raise HTTPException(404, f"no static file {name!r}")
    return FileResponse(path, media_type=MEDIA_TYPES[path.suffix], headers=PAGE_HEADERS)


class Curve(BaseModel):
    candidate_id: int
    x: list[float]
    f: list[float | None] = Field(description="f(x); null where it is not finite (a pole, an overflow)")
    df: list[float | None] = Field(description="f'(x) by central differences; null where not finite")
    params: dict[str, float] = Field(description="parameter values used (their initial values)")


def _finite(values: Any) -> list[float | None]:
    return [v if math.isfinite(v) else None for v in values.tolist()]


@api.get("/candidates/{candidate_id}/curve", operation_id="candidate_curve", response_model=Curve,
         responses={404: {"model": Message, "description": "no such candidate (or not yours)"}})
def candidate_curve(
    candidate_id: CandidateId, principal: CurrentToken, database: DatabaseDep,
    points: Annotated[int, Query(ge=2, le=2001, description="samples, evenly spaced")] = 201,
    low: Annotated[float, Query(ge=-1e4, le=1e4, description="first x")] = -5.0,
    high: Annotated[float, Query(ge=-1e4, le=1e4, description="last x")] = 5.0,
) -> Curve:
    """f and f' sampled on [low, high] for plotting (the numbers behind ``plot.svg``)."""
    if not low < high:
        raise Invalid(["query", "high"], "must be greater than low")
    with database.session() as session:
        candidate = owned_candidate(session, principal, candidate_id)
    expr = _expr(candidate)
    from api._plot import sample

    x, f, df = sample(expr, low, high, points)
    return Curve(candidate_id=candidate_id, x=x.tolist(), f=_finite(f), df=_finite(df), params=expr.param_inits())


class SpaceCount(BaseModel):
    count: int = Field(description="syntactically distinct candidates of the space")


SPACE_EXAMPLE = {"unary": ["x", "sigmoid", "tanh"], "binary": ["mul", "add"], "units": 1}


@api.post("/spaces/count", operation_id="count_space", response_model=SpaceCount)
def count_space(
    space: Annotated[dict[str, Any], Body(description="the `space` object of a JobSpec", examples=[SPACE_EXAMPLE])],
    principal: CurrentToken,
) -> SpaceCount:
    """How many candidates a JobSpec's ``space`` holds; errors name the field like a JobSpec's."""
    found = bad_text(space)
    if found is not None:
        raise Invalid(["body", *found[0]], found[1])
    from space import Space, SpaceError

    try:
        return SpaceCount(count=Space.from_json(space).count())
    except SpaceError as exc:
        raise Invalid(["body", exc.field], str(exc).split(": ", 1)[-1]) from None
    except (TypeError, ValueError, OverflowError) as exc:  # e.g. an unhashable operator name
        raise Invalid(["body"], f"invalid space: {exc}") from None


class OperatorUse(BaseModel):
    name: str
    arity: int | None
    candidates: int = Field(description="top candidates using the operator")


class EvaluationCount(BaseModel):
    candidate_id: int
    finished: int
    pending: int


class Reason(BaseModel):
    status: str
    reason: str
    count: int


class TracePoint(BaseModel):
    evaluations: int = Field(description="search evaluations finished")
    best: float | None = Field(description="best search fitness after them")


class Insights(BaseModel):
    job_id: int
    last_event_id: int = Field(description="resume the event stream after this id to miss nothing")
    top: int = Field(description="candidates that operators and evaluations describe")
    operators: list[OperatorUse] = Field(description=(
        "operator usage among the top candidates with a fitness (the job's baselines not counted)"))
    evaluations: list[EvaluationCount] = Field(description="per top candidate, in leaderboard order")
    reasons: list[Reason] = Field(description="rejected and failed evaluations by reason")
    trace: list[TracePoint] = Field(description="best fitness so far; the points where it improves")


@api.get("/jobs/{job_id}/insights", operation_id="job_insights", response_model=Insights,
         responses={404: {"model": Message, "description": "no such job (or not yours)"}})
def job_insights(
    job_id: JobId, principal: CurrentToken, database: DatabaseDep,
    top: Annotated[int, Query(ge=1, le=500, description="leaderboard rows to describe")] = 20,
) -> Insights:
    """Aggregates for the dashboard: operator usage, evaluation counts, rejection reasons, trace."""
    from api._insights import job_insights as compute

    with database.session() as session:
        owned_job(session, principal, job_id)
        return Insights.model_validate(compute(session=session, job_id=job_id, top=top))


router = APIRouter()
router.include_router(pages)
router.include_router(api, prefix=API_PREFIX)
