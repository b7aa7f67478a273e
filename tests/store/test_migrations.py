"""Migrations: to head on an empty database, idempotent, concurrent-safe, equal to the models."""

from __future__ import annotations

import threading

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

import store
from store import Base, Database
from store._migrate import alembic_config

TABLES = {"jobs", "candidates", "evaluations", "events", "tokens"}


def _revision(db: Database) -> str | None:
    with db.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def test_migrates_an_empty_database_to_head(database_url: str) -> None:
    db = store.connect(database_url, migrate=False)
    try:
        assert set(inspect(db.engine).get_table_names()) == set()
        store.migrate(db)
        assert set(inspect(db.engine).get_table_names()) == TABLES | {"alembic_version"}
        head = ScriptDirectory.from_config(alembic_config()).get_current_head()
        assert head == "0003" and _revision(db) == head
    finally:
        db.dispose()


def test_migrating_again_is_a_no_op(database: Database, database_url: str) -> None:
    with database.session() as session:
        store.create_job(session=session, name="kept", owner="a", spec={})
    store.migrate(database_url)
    store.migrate(database)
    again = store.connect(database_url)
    try:
        with again.session() as session:
            assert store.list_jobs(session=session)[1] == 1
        assert _revision(again) == "0003"
    finally:
        again.dispose()


def test_concurrent_starts_migrate_once(database_url: str) -> None:
    errors: list[BaseException] = []
    barrier = threading.Barrier(3)

    def start() -> None:
        try:
            barrier.wait()
            store.connect(database_url).dispose()
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=start) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


RANK_INDEXES = {"ix_candidates_rank", "ix_candidates_rank_sqlite"}  # expression indexes: Alembic cannot compare


def test_schema_equals_the_models(database: Database) -> None:
    def comparable(obj: object, name: str | None, kind: str, reflected: bool, other: object) -> bool:
        return not (kind == "index" and name in RANK_INDEXES)

    with database.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True, "include_object": comparable})
        assert compare_metadata(context, Base.metadata) == []
    names = {index["name"] for index in inspect(database.engine).get_indexes("candidates")}
    assert names & RANK_INDEXES == {"ix_candidates_rank" if database.dialect == "postgresql" else
                                    "ix_candidates_rank_sqlite"}


def test_a_database_from_a_newer_version_is_a_clear_error(database: Database, database_url: str) -> None:
    with database.session() as session:
        session.execute(text("UPDATE alembic_version SET version_num = '9999_future'"))
    with pytest.raises(store.StoreError, match="migrating .* failed: .*9999_future"):
        store.connect(database_url)
