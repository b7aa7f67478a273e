"""Candidates: one function of a job, its evaluations, its code in any format, and a plot."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Query
from fastapi.responses import PlainTextResponse, Response

import store
from api._auth import CurrentToken, owned_candidate
from api._deps import DatabaseDep
from api._schemas import MAX_ID, CandidatePublic, EvaluationsPublic, Message, ValidationErrors
from api._views import baseline_rows, candidate_public, evaluation_public

router = APIRouter(prefix="/candidates", tags=["candidates"], responses={
    401: {"model": Message, "description": "missing, invalid or revoked token"},
    404: {"model": Message, "description": "no such candidate (or not yours)"},
    422: {"model": ValidationErrors, "description": "invalid input"},
})

CandidateId = Annotated[int, Path(ge=1, le=MAX_ID, description="a candidate id")]
ExportFormat = Literal["torch", "function", "numpy", "jax", "latex", "sympy"]  # space.EXPORT_FORMATS
TEXT: dict[int | str, dict[str, Any]] = {200: {"content": {"text/plain": {"schema": {"type": "string"}}},
                                              "description": "the source code"}}
SVG: dict[int | str, dict[str, Any]] = {200: {"content": {"image/svg+xml": {"schema": {"type": "string"}}},
                                             "description": "f and f' on [-5, 5]"}}


def _expr(candidate: store.Candidate) -> Any:
    from space import Expr, ExprError

    try:
        return Expr.from_json(candidate.expr_json)
    except (ExprError, TypeError, ValueError, KeyError) as exc:  # a row written by an older version
        raise HTTPException(409, f"candidate {candidate.id} has no readable expression: {exc}") from None


@router.get("/{candidate_id}", operation_id="get_candidate", response_model=CandidatePublic)
def get_candidate(candidate_id: CandidateId, principal: CurrentToken, database: DatabaseDep) -> CandidatePublic:
    """The function, its identity, properties, the evaluated torch source, its fitness, how it
    compares with the job's baselines, and its transfer verdict task by task."""
    with database.session() as session:
        candidate = owned_candidate(session, principal, candidate_id)
        job = store.get_job(session=session, job_id=candidate.job_id)
        return candidate_public(candidate, baseline_rows(session, job, [candidate]) if job is not None else None)


@router.get("/{candidate_id}/evaluations", operation_id="list_candidate_evaluations",
            response_model=EvaluationsPublic)
def list_candidate_evaluations(candidate_id: CandidateId, principal: CurrentToken, database: DatabaseDep
                               ) -> EvaluationsPublic:
    """Every training run of the candidate (task, seed, steps, phase, result, metrics), and the
    size of the population each trained in."""
    with database.session() as session:
        owned_candidate(session, principal, candidate_id)
        rows = store.list_evaluations(session=session, candidate_id=candidate_id)
        populations = store.population_sizes(session=session, evaluations=rows)
    return EvaluationsPublic(data=[evaluation_public(row, populations.get(row.id)) for row in rows], count=len(rows))


@router.get("/{candidate_id}/export", operation_id="export_candidate", response_class=PlainTextResponse,
            responses=TEXT)
def export_candidate(
    candidate_id: CandidateId, principal: CurrentToken, database: DatabaseDep,
    format: Annotated[ExportFormat, Query(description="target language")] = "torch",
) -> Response:
    """The candidate as code; ``torch`` is the exact module that was evaluated (a .py download)."""
    with database.session() as session:
        candidate = owned_candidate(session, principal, candidate_id)
    if format == "torch":
        return PlainTextResponse(candidate.torch_source, headers={
            "Content-Disposition": f'attachment; filename="candidate_{candidate.id}.py"'})
    from space import export

    text = export(_expr(candidate), format)
    return PlainTextResponse(text if text.endswith("\n") else text + "\n")


@router.get("/{candidate_id}/plot.svg", operation_id="plot_candidate", response_class=Response, responses=SVG)
def plot_candidate(candidate_id: CandidateId, principal: CurrentToken, database: DatabaseDep) -> Response:
    """An SVG of f and f' on [-5, 5], parameters at their initial values."""
    with database.session() as session:
        candidate = owned_candidate(session, principal, candidate_id)
    from api._plot import function_plot

    svg = function_plot(_expr(candidate), title=candidate.expression)
    return Response(svg, media_type="image/svg+xml", headers={"Cache-Control": "max-age=3600"})
