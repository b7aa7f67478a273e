"""Opening a store: SQLite (the embedded default) or PostgreSQL (the multi-worker store).

Example:
    >>> db = connect("sqlite:///actsearch.db")          # doctest: +SKIP
    >>> with db.session() as session:                   # doctest: +SKIP
    ...     job = create_job(session=session, name="demo", owner="me", spec={})
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, InvalidatePoolError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from store._home import default_url, home


class StoreError(Exception):
    """The store cannot be used as asked: an unsupported URL, an unreachable database, a
    missing row a write depends on. The message says which."""


def normalize_url(url: str) -> str:
    """The SQLAlchemy URL for ``url``: ``postgresql://`` and ``postgres://`` use psycopg 3,
    a bare file path means SQLite, ``sqlite:///file.db`` is kept.

    >>> normalize_url("postgres://u@db/actsearch")
    'postgresql+psycopg://u@db/actsearch'
    >>> normalize_url("runs/actsearch.db")
    'sqlite:///runs/actsearch.db'
    """
    url = url.strip()
    if not url:
        raise StoreError("empty database URL")
    if url == ":memory:":
        url = "sqlite:///:memory:"
    if "://" not in url:
        return "sqlite:///" + os.path.expanduser(url)
    scheme, rest = url.split("://", 1)
    scheme = scheme.lower()
    if scheme in ("postgresql", "postgres", "postgresql+psycopg"):
        return "postgresql+psycopg://" + rest
    if scheme in ("sqlite", "sqlite+pysqlite"):
        if rest in ("", "/", "/:memory:") or "mode=memory" in rest:
            # Every session gets its own connection, and each in-memory database is private to
            # one connection: the runner would never see the API's jobs.
            raise StoreError(
                f"in-memory SQLite is not supported ({url!r}): use a file, e.g. sqlite:///actsearch.db"
            )
        return "sqlite:///" + rest.removeprefix("/")
    raise StoreError(
        f"unsupported database URL scheme {scheme!r}: use sqlite:///PATH (or a bare file path) "
        "or postgresql://USER@HOST/DB"
    )


def display_url(url: str) -> str:
    """``url`` to print or log: a PostgreSQL password is masked.

    >>> display_url("postgresql://u:secret@db/actsearch")
    'postgresql://u:***@db/actsearch'
    """
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


def _first_line(error: BaseException) -> str:
    orig = getattr(error, "orig", None) or error
    text = str(orig).strip()
    return text.splitlines()[0] if text else type(orig).__name__


def _sqlite_pragmas(dbapi_connection: Any, connection_record: Any) -> None:
    # A busy writer is waited for (30 s) instead of failing at once with "database is locked";
    # foreign keys are off by default in SQLite; WAL lets the API read while a runner writes.
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        _enable_wal(cursor)
    finally:
        cursor.close()


def _postgresql_settings(dbapi_connection: Any, connection_record: Any) -> None:
    # One plan per prepared statement (psycopg prepares a statement run five times), made at
    # its first run. By default PostgreSQL plans a prepared statement for each run's values
    # until its generic plan's estimated cost is no more than theirs; for a job the table's
    # statistics do not know yet (the newest, the one being watched), a plan for its values
    # reads a row or two, so the generic plan never was, and every leaderboard page was planned
    # again: 0.2 of the server's 0.5 ms of CPU a page (bench/api_load.py). Every statement the
    # store runs reads by an index on ids, a job or a token, the same plan whatever the values.
    autocommit = dbapi_connection.autocommit
    dbapi_connection.autocommit = True
    try:
        dbapi_connection.execute("SET plan_cache_mode = force_generic_plan")
    finally:
        dbapi_connection.autocommit = autocommit


def _enable_wal(cursor: Any) -> None:
    # WAL is a property of the file, so this switches once per database. The switch needs
    # exclusive access and fails at once, without the busy timeout, when processes open a new
    # database together: retry for a while then.
    deadline = time.monotonic() + 30
    while cursor.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


class Database:
    """An engine and a session factory for one store.

    Sessions keep their objects loaded after commit (``expire_on_commit=False``) so that a
    returned row can be read after its ``with db.session()`` block ends.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.url = engine.url.render_as_string(hide_password=False)
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self.engine.dialect.name

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        """A session in a transaction: committed when the block ends, rolled back on error."""
        with self._sessions() as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    @contextlib.contextmanager
    def reads(self) -> Iterator[Session]:
        """A session for a request's reads, and writes of one statement at most.

        On PostgreSQL it runs outside a transaction (each write commits at once): a statement sees
        what was committed when it started, as in the READ COMMITTED transaction of
        :meth:`session`, without the BEGIN and COMMIT round trips, four of a leaderboard page's
        ten. SQLite keeps its transaction: it makes a page's statements read one snapshot there,
        and costs no round trip.
        """
        if self.dialect != "postgresql":
            with self.session() as session:
                yield session
            return
        with self._sessions() as session:
            session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
            yield session
            session.commit()  # what the ORM still holds (nothing, in the API's reads)

    def ping(self) -> None:
        """Checks that the database answers (the health check); raises :class:`StoreError` if not."""
        try:
            with self.reads() as session:  # on PostgreSQL one round trip, not BEGIN, SELECT, COMMIT
                session.execute(text("SELECT 1"))
        except SQLAlchemyError as error:
            raise StoreError(f"cannot reach {display_url(self.url)!r}: {_first_line(error)}") from error

    def dispose(self) -> None:
        """Closes every pooled connection."""
        self.engine.dispose()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.dispose()

    def __repr__(self) -> str:
        return f"Database({display_url(self.url)!r})"


# A pooled connection idle for longer is pinged before it is handed out (see _ping_idle_connections).
IDLE_PING_SECONDS = 1.0


def _ping_idle_connections(engine: Engine) -> None:
    """Pings a pooled PostgreSQL connection before handing it out, if it sat idle in the pool for
    more than ``IDLE_PING_SECONDS``: one that the server dropped (a restart, an idle timeout) is
    replaced by a new one then, and the request never sees it.

    ``pool_pre_ping`` pinged on every checkout: a round trip more per session, while under load
    a connection goes back out within milliseconds. A server that restarts faster than
    ``IDLE_PING_SECONDS`` after a connection's last use is the one case left: the request that
    gets the connection fails (a 500), and the pool replaces all its connections for the next.
    """

    @event.listens_for(engine, "checkin")
    def checkin(dbapi_connection: Any, record: Any) -> None:
        record.info["checked_in"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def checkout(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        checked_in = record.info.pop("checked_in", None)
        if checked_in is None or time.monotonic() - checked_in <= IDLE_PING_SECONDS:
            return  # new, or just used
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as error:
            # The pool replaces this connection and hands out the new one; the older ones are
            # likely gone too (a restart), so it replaces them as they come out.
            raise InvalidatePoolError(f"a pooled connection is gone: {_first_line(error)}") from error


def create_store_engine(url: str) -> Engine:
    """The engine for ``url`` with this store's connection settings (no connection made yet)."""
    url = normalize_url(url)
    try:
        if url.startswith("sqlite"):
            engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
            event.listen(engine, "connect", _sqlite_pragmas)
        else:
            engine = create_engine(url)
            event.listen(engine, "connect", _postgresql_settings)
            _ping_idle_connections(engine)
    except (ArgumentError, SQLAlchemyError, ImportError, ValueError) as error:
        raise StoreError(f"invalid database URL {display_url(url)!r}: {_first_line(error)}") from error
    return engine


def _make_home(url: str) -> None:
    # SQLite creates the file but not its folder; the service's own folder is made on first
    # use (any other missing folder stays an error: it is more likely a typo).
    normalized = normalize_url(url)
    if normalized.startswith("sqlite:///"):
        parent = Path(normalized.removeprefix("sqlite:///").split("?", 1)[0]).absolute().parent
        if parent == home():
            parent.mkdir(parents=True, exist_ok=True)


def connect(url: str | None = None, *, migrate: bool = True) -> Database:
    """Opens the store at ``url`` (default: :func:`store.default_url`), checks that it is
    reachable, and (with ``migrate``) brings its schema to the newest migration. Safe to call at
    every start, from several processes."""
    url = default_url() if url is None else url
    _make_home(url)
    engine = create_store_engine(url)
    try:
        with engine.connect():
            pass
    except SQLAlchemyError as error:
        engine.dispose()
        raise StoreError(f"cannot connect to {display_url(url)!r}: {_first_line(error)}") from error
    db = Database(engine)
    if migrate:
        from store._migrate import migrate as run_migrations

        try:
            run_migrations(engine)
        except BaseException:
            engine.dispose()
            raise
    return db
