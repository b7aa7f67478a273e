"""Fixtures shared by every test package."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.postgres import PostgresServer, postgres_server


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A private PostgreSQL server for the whole test session, started the first time a test
    asks for it (``postgres.create_database()`` gives each test a fresh database)."""
    with postgres_server() as server:
        yield server


@pytest.fixture(scope="session", autouse=True)
def private_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The service's default folder (the default database, data sets) in a temporary directory,
    for this process and the commands it starts: no test reads or writes the user's own."""
    import os

    saved = os.environ.get("ACTSEARCH_HOME")
    os.environ["ACTSEARCH_HOME"] = str(tmp_path_factory.mktemp("actsearch-home"))
    yield
    if saved is None:
        del os.environ["ACTSEARCH_HOME"]
    else:
        os.environ["ACTSEARCH_HOME"] = saved
