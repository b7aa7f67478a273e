"""Operations: health (no authentication) and Prometheus metrics."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, PlainTextResponse

import store
from api._auth import current_token
from api._deps import DatabaseDep
from api._schemas import Health, Message

log = logging.getLogger(__name__)

router = APIRouter(tags=["service"])


@router.get("/healthz", operation_id="health", response_model=Health,
            responses={503: {"model": Health, "description": "the database is unreachable"}})
def health(database: DatabaseDep) -> Health | JSONResponse:
    """Whether the service can reach its database. No token needed."""
    try:
        database.ping()
    except store.StoreError:
        log.warning("health check failed", exc_info=True)
        return JSONResponse(Health(status="unavailable", database=database.dialect).model_dump(), status_code=503)
    return Health(status="ok", database=database.dialect)


def prometheus(stats: dict[str, object]) -> str:
    """The text exposition format (version 0.0.4) of :func:`store.service_stats`."""
    lines: list[str] = []

    def metric(name: str, kind: str, help: str, samples: list[tuple[str, object]]) -> None:
        lines.extend((f"# HELP actsearch_{name} {help}", f"# TYPE actsearch_{name} {kind}"))
        lines.extend(f"actsearch_{name}{labels} {value}" for labels, value in samples)

    jobs = stats["jobs"]
    assert isinstance(jobs, dict)
    metric("jobs", "gauge", "Jobs by status.", [(f'{{status="{s}"}}', n) for s, n in sorted(jobs.items())])
    metric("queue_depth", "gauge", "Jobs waiting for a runner.", [("", stats["queue_depth"])])
    metric("evaluations_last_minute", "gauge", "Evaluations finished in the last 60 seconds.",
           [("", stats["evaluations_last_minute"])])
    metric("evaluations_pending", "gauge", "Evaluations waiting for a result.", [("", stats["evaluations_pending"])])
    metric("evaluations_finished_total", "counter", "Evaluations finished, any result.",
           [("", stats["evaluations_finished"])])
    metric("evaluations_failed_total", "counter", "Evaluations that crashed or timed out.",
           [("", stats["evaluations_failed"])])
    metric("evaluations_rejected_total", "counter", "Evaluations rejected early (unstable, no learning).",
           [("", stats["evaluations_rejected"])])
    return "\n".join(lines) + "\n"


@router.get("/metrics", operation_id="metrics", response_class=PlainTextResponse,
            dependencies=[Depends(current_token)],
            responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}},
                             "description": "Prometheus text format"},
                       401: {"model": Message, "description": "missing, invalid or revoked token"}})
def metrics(database: DatabaseDep) -> PlainTextResponse:
    """Jobs by status, queue depth, recent evaluation throughput, failure and rejection totals."""
    with database.session() as session:
        stats = store.service_stats(session=session)
    return PlainTextResponse(prometheus(stats),
                             media_type="text/plain; version=0.0.4; charset=utf-8")
