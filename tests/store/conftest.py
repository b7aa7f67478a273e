"""Every store test runs on both backends: a fresh SQLite file, and a fresh PostgreSQL database
on the session's server."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import store
from store import Candidate, Database, Job

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty database (not migrated yet); on PostgreSQL a fresh schema."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return str(request.getfixturevalue("postgres").create_schema())


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    db = store.connect(database_url)
    yield db
    db.dispose()


@pytest.fixture
def make_job(database: Database) -> Callable[..., Job]:
    def make(name: str = "job", owner: str = "alice", spec: dict[str, Any] | None = None) -> Job:
        with database.session() as session:
            return store.create_job(session=session, name=name, owner=owner, spec=spec or {"seed": 0})

    return make


@pytest.fixture
def make_candidate(database: Database) -> Callable[..., Candidate]:
    def make(job_id: int, fingerprint: str, expression: str | None = None) -> Candidate:
        with database.session() as session:
            return store.add_candidate(
                session=session,
                job_id=job_id,
                fingerprint=fingerprint,
                expression=expression or f"f_{fingerprint}(x)",
                expr_json={"op": "x"},
                canonical=expression or fingerprint,
                latex="x",
                torch_source="def f(x):\n    return x\n",
                properties={"monotonic": True},
            )

    return make
