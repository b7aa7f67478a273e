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
