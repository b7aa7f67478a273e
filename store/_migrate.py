"""Alembic migrations, run from code: no alembic.ini is needed where the service runs.

``migrate`` is called by :func:`store.connect` at every start. It is idempotent, and safe when
several processes start at once (an API and runners from one docker-compose): the upgrade runs
under a lock — a PostgreSQL advisory lock, or SQLite's write lock — so only one process creates
tables and the others find them at head.

Developers write a new revision with
``python -m store revision -m "what changes" --autogenerate --url sqlite:///dev.db``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

if TYPE_CHECKING:
    from alembic.config import Config

    from store._db import Database

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# An arbitrary constant naming this store's migration lock among PostgreSQL advisory locks.
_ADVISORY_LOCK = 0x61637473  # "acts"


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic config pointing at the package's migrations (and at ``connection``)."""
    from alembic.config import Config  # imported when used: Alembic adds ~0.3 s to every start

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def _lock(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_LOCK})
    elif connection.dialect.name == "sqlite":
        # pysqlite does not open a transaction before DDL: open one that holds the write lock.
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def migrate(target: Engine | Database | str) -> None:
    """Upgrades the store's schema to the newest revision (a no-op when it is there already)."""
    from alembic import command
    from alembic.util import CommandError

    from store._db import Database, StoreError, _first_line, create_store_engine, display_url

    if isinstance(target, str):
        engine = create_store_engine(target)
        owned = True
    else:
        engine = target.engine if isinstance(target, Database) else target
        owned = False
    try:
        with engine.connect() as connection:
            _lock(connection)
            command.upgrade(alembic_config(connection), "head")
            connection.commit()
    except (SQLAlchemyError, CommandError) as error:
        # CommandError: e.g. the database was migrated by a newer actsearch than this one.
        url = display_url(engine.url.render_as_string(hide_password=False))
        raise StoreError(f"migrating {url!r} failed: {_first_line(error)}") from error
    finally:
        if owned:
            engine.dispose()
