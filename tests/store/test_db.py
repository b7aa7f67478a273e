"""Opening a store: URLs, connection settings, transactions, clear errors."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

import store
from store import Database, StoreError, connect, normalize_url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://u:p@db:5432/acts", "postgresql+psycopg://u:p@db:5432/acts"),
        ("postgres://u@db/acts", "postgresql+psycopg://u@db/acts"),
        ("postgresql+psycopg://u@db/acts", "postgresql+psycopg://u@db/acts"),
        ("sqlite:///actsearch.db", "sqlite:///actsearch.db"),
        ("sqlite:////var/lib/acts.db", "sqlite:////var/lib/acts.db"),
        ("runs/acts.db", "sqlite:///runs/acts.db"),
        ("/abs/acts.db", "sqlite:////abs/acts.db"),
    ],
)
def test_normalize_url(url: str, expected: str) -> None:
    assert normalize_url(url) == expected


@pytest.mark.parametrize("url", ["mysql://u@db/acts", "postgresql+psycopg2://u@db/acts", "http://x"])
def test_unsupported_scheme_is_named(url: str) -> None:
    with pytest.raises(
        StoreError, match=re.escape("unsupported database URL scheme '" + url.split("://")[0])
    ):
        normalize_url(url)


@pytest.mark.parametrize("url", ["", ":memory:", "sqlite://", "sqlite:///:memory:"])
def test_unusable_sqlite_urls(url: str) -> None:
    with pytest.raises(StoreError):
        normalize_url(url)


def test_unreachable_postgres_is_a_clear_error() -> None:
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(
        StoreError, match=rf"cannot connect to 'postgresql://u:\*\*\*@127.0.0.1:{port}/x'"
    ) as caught:
        connect(f"postgresql://u:secret@127.0.0.1:{port}/x")
    assert "secret" not in str(caught.value)  # passwords are not echoed into logs


def test_ping(database: Database) -> None:
    database.ping()  # the database answers: nothing to say


def test_ping_of_an_unreachable_database_is_a_store_error() -> None:
    import socket

    from store._db import create_store_engine

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with Database(create_store_engine(f"postgresql://u:secret@127.0.0.1:{port}/x")) as unreachable:
        with pytest.raises(StoreError, match=rf"cannot reach 'postgresql\+psycopg://u:\*\*\*@127.0.0.1:{port}/x'"):
            unreachable.ping()


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://u:secret@db/acts", "postgresql://u:***@db/acts"),
        ("postgresql+psycopg://u@db/acts", "postgresql+psycopg://u@db/acts"),
        ("sqlite:////var/lib/acts.db", "sqlite:////var/lib/acts.db"),
        ("not a url", "not a url"),
    ],
)
def test_display_url_masks_the_password(url: str, shown: str) -> None:
    assert store.display_url(url) == shown


def test_sqlite_in_missing_directory_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="cannot connect"):
        connect(f"sqlite:///{tmp_path / 'missing' / 'x.db'}")


def test_bare_path_opens_sqlite(tmp_path: Path) -> None:
    db = connect(str(tmp_path / "acts.db"))
    try:
        assert db.dialect == "sqlite"
        assert (tmp_path / "acts.db").exists()
    finally:
        db.dispose()


def test_sqlite_connection_settings(tmp_path: Path) -> None:
    with connect(f"sqlite:///{tmp_path / 'a.db'}") as db, db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000


def test_dialect(database: Database, database_url: str) -> None:
    assert database.dialect == database_url.split(":")[0].split("+")[0]


def test_session_commits_on_success_and_rolls_back_on_error(database: Database) -> None:
    with database.session() as session:
        kept = store.create_job(session=session, name="kept", owner="a", spec={})
    with pytest.raises(RuntimeError), database.session() as session:
        store.create_job(session=session, name="lost", owner="a", spec={})
        raise RuntimeError("boom")
    with database.session() as session:
        jobs, total = store.list_jobs(session=session)
    assert [job.name for job in jobs] == ["kept"] and total == 1
    assert kept.name == "kept"  # still readable after its session ended


def test_foreign_keys_are_enforced(database: Database) -> None:
    with pytest.raises(StoreError, match="job 999 does not exist"), database.session() as session:
        store.append_event(session=session, job_id=999, kind="x", data={})
    with pytest.raises(Exception, match="(?i)foreign key"), database.session() as session:
        session.execute(
            text("INSERT INTO events (job_id, kind, data, created_at) VALUES (999, 'x', '{}', '2024-01-01')")
        )


def test_store_is_plain_persistence() -> None:
    """Importing the store pulls in neither torch nor ray nor the other actsearch packages
    (the API process imports it, and must start fast)."""
    code = (
        "import sys, store; "
        "heavy = {'torch', 'ray', 'space', 'search', 'evaluator', 'worker', 'api'} & set(sys.modules); "
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
