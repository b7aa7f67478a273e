"""PostgreSQL restarts under a running service: pooled connections the server dropped are
replaced before a request uses them (store._db pings a connection that sat idle in the pool)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

import store
import store._db
from api._settings import Settings
from api.app import create_app
from tests.postgres import PostgresServer, postgres_server


@pytest.fixture(scope="module")
def server() -> Iterator[PostgresServer]:
    with postgres_server() as private:  # restarted here: the session's shared server is left alone
        yield private


@pytest.fixture
def database(server: PostgresServer) -> Iterator[store.Database]:
    db = store.connect(server.create_database())
    yield db
    db.dispose()


def select_one(database: store.Database) -> int:
    with database.reads() as session:
        return int(session.execute(text("SELECT 1")).scalar_one())


def restart_and_wait_past_the_idle_time(server: PostgresServer) -> None:
    last_use = time.monotonic()
    server.restart()
    # usually over already: a restart takes longer than IDLE_PING_SECONDS
    time.sleep(max(0.0, last_use + store._db.IDLE_PING_SECONDS + 0.05 - time.monotonic()))


def test_a_connection_that_sat_idle_through_a_restart_is_replaced_before_use(server, database) -> None:
    assert select_one(database) == 1  # a connection, back in the pool
    pooled = database.engine.pool.checkedin()
    restart_and_wait_past_the_idle_time(server)
    assert pooled >= 1
    assert select_one(database) == 1
    assert select_one(database) == 1


def test_a_restart_within_the_idle_time_fails_one_request_and_the_pool_recovers(server, database,
                                                                                 monkeypatch) -> None:
    # What a request can still see: the server restarted faster than IDLE_PING_SECONDS after its
    # connection's last use (here: no ping at all). Its statement fails with the driver's
    # disconnect error (the API answers 500); the pool replaces its connections, the next succeeds.
    monkeypatch.setattr(store._db, "IDLE_PING_SECONDS", 3600.0)
    assert select_one(database) == 1
    server.restart()
    with pytest.raises(OperationalError) as failed:
        select_one(database)
    assert failed.value.connection_invalidated
    assert select_one(database) == 1


def test_the_leaderboard_answers_the_first_request_after_a_restart(server, database) -> None:
    with database.session() as session:
        job = store.create_job(session=session, name="board", owner="alice", spec={"seed": 0})
        _, secret = store.create_token(session=session, name="t", owner="alice")
    client = TestClient(create_app(database=database, settings=Settings(leaderboard_cache_seconds=0)))
    headers = {"Authorization": f"Bearer {secret}"}
    assert client.get(f"/api/v1/jobs/{job.id}/leaderboard", headers=headers).status_code == 200
    restart_and_wait_past_the_idle_time(server)
    response = client.get(f"/api/v1/jobs/{job.id}/leaderboard", headers=headers)
    assert response.status_code == 200 and response.json()["count"] == 0
