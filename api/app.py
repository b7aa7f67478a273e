"""The FastAPI application: ``create_app(database=..., settings=...)``, no global state.

Example:
    >>> app = create_app(database=store.connect("sqlite:///actsearch.db"), settings=Settings())  # doctest: +SKIP
    >>> uvicorn.run(app)                                                                         # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import gc
import os
import threading
from collections.abc import AsyncIterator

from fastapi import APIRouter, FastAPI

import store
from api._analyze import Analyzer
from api._cache import ResponseCache
from api._deps import Writer
from api._errors import BodyLimit, install_error_handlers
from api._settings import Settings
from api.routes import candidates, catalogue, dashboard, docs, events, expressions, jobs, service

API_PREFIX = "/api/v1"

DESCRIPTION = """\
Discover activation functions: submit a search (a JobSpec), follow it live, rank and export
what it finds.

Every operation but `/healthz` needs `Authorization: Bearer <token>`; create one with
`actsearch token create --name NAME`. Long work is a resource: `POST /jobs` answers `202` with a
`Location`, then poll the job or follow `GET /jobs/{id}/events` (server-sent events).
Validation errors are `422` with `{"detail": [{"loc": [...], "msg": ..., "type": ...}]}`.
"""


def create_app(*, database: store.Database, settings: Settings) -> FastAPI:
    """The API over ``database``; routes live under ``/api/v1``."""
    analyzer = Analyzer(time_limit=settings.parse_seconds)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        import anyio.to_thread

        # the sync routes run in this pool (see Settings.threads); parsing has its own
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.threads
        yield
        analyzer.close()

    app = FastAPI(title="actsearch", version="1", description=DESCRIPTION, lifespan=lifespan,
                  openapi_url=f"{API_PREFIX}/openapi.json", docs_url=None, redoc_url=None)
    app.state.analyzer = analyzer
    app.state.database = database
    app.state.settings = settings
    app.state.writer = Writer(database)
    app.state.leaderboards = ResponseCache(seconds=settings.leaderboard_cache_seconds)
    install_error_handlers(app)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    api = APIRouter(prefix=API_PREFIX)
    for module in (jobs, events, candidates, expressions, catalogue, service):
        api.include_router(module.router)
    app.include_router(api)
    app.include_router(docs.router)  # Swagger UI and ReDoc with their files from this process (offline)
    app.include_router(dashboard.router)  # the web dashboard at / and its API operations
    return app


def warm_up() -> None:
    """Imports in the background what a first submission needs (:func:`worker.spec.warm_up`),
    then moves every object alive by then out of the garbage collector's sight (``gc.freeze``).

    Those are the imports, torch's alone a few hundred thousand objects, and they live as long
    as the process. Each full collection walked them all: 90 to 180 ms in which the process
    answered nothing, every few seconds under bench/api_load.py's load (measured): most of the
    leaderboard's p99. After the freeze a full collection walks what requests left behind."""
    from worker.spec import warm_up as import_heavy_modules

    import_heavy_modules()
    gc.freeze()


def app_from_environment() -> FastAPI:
    """The app of one process of ``actsearch serve --processes N``: uvicorn starts each process
    from this factory, with the settings the parent put into ``ACTSEARCH_*`` variables."""
    from api._logging import configure_logging
    from space import load_plugins
    configure_logging(os.environ.get("ACTSEARCH_LOG_FORMAT", "text"))
    load_plugins()
    threading.Thread(target=warm_up, name="warm-up", daemon=True).start()
    settings = Settings()
    return create_app(database=store.connect(settings.db), settings=settings)
