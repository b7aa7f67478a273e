"""Jobs: submit a search (202 + Location), list, inspect, cancel, and rank its candidates."""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, Path, Query, Request, Response
from pydantic.json_schema import GetJsonSchemaHandler, JsonSchemaValue
from pydantic_core import CoreSchema

import store
from api._auth import BearerSecret, CurrentToken, Principal, owned_job, principal_of
from api._cache import ResponseCache
from api._cursor import CURSOR_LENGTH, decode_cursor, encode_cursor
from api._deps import DatabaseDep, SettingsDep, WriterDep
from api._errors import Invalid, bad_text
from api._schemas import (
    MAX_ID,
    MAX_PAGE,
    JobPublic,
    JobsPublic,
    JobStatus,
    JobSubmitted,
    LeaderboardPublic,
    Message,
    ValidationErrors,
)
from api._settings import Settings
from api._views import baseline_rows, job_public, jobs_public, leaderboard_body
from worker.spec import EXAMPLE_SPEC, MULTI_TASK_EXAMPLE, JobSpec, SpecError

log = logging.getLogger(__name__)

class JobSpecSchema:
    """``Annotated[dict[str, Any], JobSpecSchema()]``: a JSON object documented as a JobSpec
    (validated by :meth:`JobSpec.from_json`, which reports every problem, not FastAPI's first)."""

    def __get_pydantic_json_schema__(self, core_schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        return handler(JobSpec.__pydantic_core_schema__)


router = APIRouter(prefix="/jobs", tags=["jobs"], responses={
    401: {"model": Message, "description": "missing, invalid or revoked token"},
    422: {"model": ValidationErrors, "description": "invalid input; `loc` names the field"},
})

JobId = Annotated[int, Path(ge=1, le=MAX_ID, description="a job id")]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE, description=f"page size (at most {MAX_PAGE})")]
Offset = Annotated[int, Query(ge=0, le=MAX_ID, description="rows to skip")]
Cursor = Annotated[str | None, Query(max_length=CURSOR_LENGTH, description=(
    "where the page starts: the `next_cursor` of the page before (then `offset` stays 0)"))]
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": Message, "description": "no such job (or not yours)"}}
SPEC_EXAMPLES = {
    "swish": {"summary": "Rediscover Swish (DESIGN.md)", "value": EXAMPLE_SPEC},
    "small": {"summary": "A quick random search", "value": {
        "name": "quick", "controller": {"kind": "random"}, "budget": {"candidates": 10}}},
    "multi": {"summary": "Scored on two tasks, the expensive one behind a hurdle", "value": MULTI_TASK_EXAMPLE},
}


def validate_spec(data: dict[str, Any], principal: Principal, settings: Settings) -> dict[str, Any]:
    """The normalized spec to store; :class:`Invalid` names the offending field."""
    found = bad_text(data)
    if found is not None:
        raise Invalid(["body", *found[0]], found[1])
    try:
        spec = JobSpec.from_json(data)
    except SpecError as exc:  # every problem at once, each with its field
        (first, reason), *more = exc.problems
        raise Invalid(["body", *_path(first)], reason, more=[(["body", *_path(f)], m) for f, m in more]) from None
    except (TypeError, ValueError, OverflowError, RecursionError) as exc:
        log.warning("JobSpec validation raised %s", type(exc).__name__, exc_info=True)
        raise Invalid(["body"], f"invalid JobSpec: {exc}") from None
    limit = principal.max_candidates or settings.default_max_candidates
    if limit is not None and spec.budget.candidates > limit:
        raise Invalid(["body", "budget", "candidates"],
                      f"this token may run at most {limit} candidates per job, asked for {spec.budget.candidates}",
                      "quota_exceeded")
    return spec.to_json()


def _path(field: str) -> list[str | int]:
    """``confirm.tasks[1]`` -> ``["confirm", "tasks", 1]``."""
    parts: list[str | int] = []
    for piece in field.split("."):
        name, _, rest = piece.partition("[")
        if name:
            parts.append(name)
        for index in rest.replace("]", "").split("[") if rest else ():
            parts.append(int(index) if index.isdigit() else index)
    return parts


@router.post("", status_code=202, operation_id="submit_job", response_model=JobSubmitted,
             responses={429: {"model": Message, "description": "too many queued or running jobs"}})
def submit_job(
    spec: Annotated[dict[str, Any], JobSpecSchema(), Body(openapi_examples=SPEC_EXAMPLES)],
    principal: CurrentToken, writer: WriterDep, settings: SettingsDep, response: Response,
) -> JobSubmitted:
    """Queues a search. Everything in the spec is checked now; the job runs on a runner."""
    normalized = validate_spec(spec, principal, settings)
    limit = principal.max_concurrent_jobs or settings.default_max_concurrent_jobs
    with writer.session() as session:
        if limit is not None:
            active = store.count_active_jobs(session=session, owner=principal.owner)
            if active >= limit:
                raise HTTPException(429, f"{principal.owner!r} has {active} queued or running jobs; the limit "
                                         f"is {limit}: wait for one to finish or cancel one")
        job = store.create_job(session=session, name=normalized["name"], owner=principal.owner, spec=normalized)
    response.headers["Location"] = f"/api/v1/jobs/{job.id}"
    return JobSubmitted(**dict(job_public(job)), warnings=spec_warnings(normalized))


def spec_warnings(spec: dict[str, Any]) -> list[str]:
    """Valid but probably not meant: said in the 202 body, the job is queued all the same."""
    from space import Space

    warnings = []
    size, budget = Space.from_json(spec["space"]).count(), spec["budget"]["candidates"]
    if size < budget:
        warnings.append(f"the space holds {size} candidates, fewer than budget.candidates ({budget}): the search "
                        f"stops when it has tried them all (stop_reason 'exhausted')")
    return warnings


@router.get("", operation_id="list_jobs", response_model=JobsPublic)
def list_jobs(
    principal: CurrentToken, database: DatabaseDep,
    status: Annotated[JobStatus | None, Query(description="only jobs in this status")] = None,
    name: Annotated[str | None, Query(max_length=200, pattern=r"^[^\x00]*$",
                                      description="case-insensitive substring of the name")] = None,
    limit: Limit = 50, offset: Offset = 0,
) -> JobsPublic:
    """Jobs, newest first: your own, or everyone's with an admin token."""
    owner = None if principal.is_admin else principal.owner
    with database.session() as session:
        jobs, count = store.list_jobs(session=session, owner=owner, status=status, name=name, limit=limit,
                                      offset=offset)
        return JobsPublic(data=jobs_public(session, jobs), count=count)


@router.get("/{job_id}", operation_id="get_job", response_model=JobPublic, responses=NOT_FOUND)
def get_job(job_id: JobId, principal: CurrentToken, database: DatabaseDep) -> JobPublic:
    """Status, phase, progress against the budget, best fitness and the spec."""
    with database.session() as session:
        return jobs_public(session, [owned_job(session, principal, job_id)])[0]


@router.post("/{job_id}/cancel", status_code=202, operation_id="cancel_job", response_model=JobPublic,
             responses=NOT_FOUND)
def cancel_job(job_id: JobId, principal: CurrentToken, writer: WriterDep) -> JobPublic:
    """Cancels a job: a queued one at once, a running one within a heartbeat. Idempotent."""
    with writer.session() as session:
        before = owned_job(session, principal, job_id).status
        job = store.request_cancel(session=session, job_id=job_id)
        if job is None:
            raise HTTPException(404, f"job {job_id} not found")
        if before == store.JOB_QUEUED and job.status == store.JOB_CANCELLED:
            # No runner will say so: the event log must still end with the job's final status.
            store.append_event(session=session, job_id=job_id, kind="status",
                               data={"status": store.JOB_CANCELLED, "error": None})
        return jobs_public(session, [job])[0]


@router.get("/{job_id}/leaderboard", operation_id="get_leaderboard", response_model=LeaderboardPublic,
            responses=NOT_FOUND)
def get_leaderboard(
    request: Request, job_id: JobId, secret: BearerSecret, limit: Limit = 50, offset: Offset = 0, cursor: Cursor = None
) -> Response:
    """Candidates best first: by confirmed mean once confirmed, else by search fitness; ties in
    order of proposal. Page with `cursor` (each page's `next_cursor`), or with `offset`, which
    walks the rows it skips."""
    # the store and the cache straight from the app: each dependency costs ~40 µs of a deep
    # page's ~2 ms of CPU, the busiest read of the service (bench/api_load.py)
    database: store.Database = request.app.state.database
    cache: ResponseCache = request.app.state.leaderboards
    with database.reads() as session:
        # the token and the job, checked on every request, cached or not, as owned_job does, on the
        # columns a page needs: one statement, in this page's session (one connection)
        caller, job = store.authenticate_for_job(session=session, secret=secret, job_id=job_id)
        principal = principal_of(caller)
        if job is None or not principal.may_see(job.owner):
            raise HTTPException(404, f"job {job_id} not found")
        if cursor is not None and offset:
            raise Invalid(["query", "offset"], "a page starts at an offset or at a cursor, not both")
        start, after = (offset, None) if cursor is None else decode_cursor(cursor, job_id=job_id)
        key = (job_id, limit, offset, cursor, job.status, job.phase, job.updated_at, job.candidates_proposed,
               job.evaluations_done)
        body = cache.get(key)
        if body is None:
            # one row more than the page: whether a next page exists, so the last page says so
            rows = store.leaderboard_view(session=session, job_id=job_id, limit=limit + 1, offset=offset,
                                          after=after)
            rows, more = rows[:limit], len(rows) > limit
            body = leaderboard_body(
                job_id=job_id,
                count=job.candidates_proposed,  # the counter store.leaderboard reads, in the row loaded above
                rows=rows,
                start=start,
                baselines=baseline_rows(session, job, rows),  # at most one query more: those not on the page
                next_cursor=encode_cursor(job_id, start + len(rows), store.RankKey.of(rows[-1])) if more else None)
            cache.put(key, body)
    return Response(body, media_type="application/json")
