"""Dependencies every route shares: the store, the settings, the in-process write lock.

There is deliberately no session dependency. FastAPI runs the exit code of a ``yield``
dependency (the commit, the return of the connection to the pool) as a separate threadpool
task; under load every threadpool thread can be busy waiting for a connection or for SQLite's
write lock that only such an exit would release — a deadlock until the 30 s timeouts. So a
route opens its session with ``database.session()`` inside its own thread and closes it there.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request

import store
from api._analyze import Analyzer
from api._settings import Settings


async def get_database(request: Request) -> store.Database:
    database: store.Database = request.app.state.database
    return database


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


class Writer:
    """Write transactions of this process, one at a time.

    SQLite has one writer at a time anyway, and its busy handler polls with growing sleeps: a
    queue of Python threads hands the lock over at once instead. It also makes check-then-insert
    (the concurrent-jobs quota) atomic within one API process.
    """

    def __init__(self, database: store.Database) -> None:
        self.database = database
        self.lock = threading.Lock()

    @contextlib.contextmanager
    def session(self) -> Iterator[store.Session]:
        with self.lock, self.database.session() as session:
            yield session


async def get_writer(request: Request) -> Writer:
    writer: Writer = request.app.state.writer
    return writer


async def get_analyzer(request: Request) -> Analyzer:
    analyzer: Analyzer = request.app.state.analyzer
    return analyzer


AnalyzerDep = Annotated[Analyzer, Depends(get_analyzer)]
DatabaseDep = Annotated[store.Database, Depends(get_database)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
WriterDep = Annotated[Writer, Depends(get_writer)]
