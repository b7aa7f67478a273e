"""A throwaway PostgreSQL server for tests, started from the distribution's binaries.

The store's suite runs on SQLite and PostgreSQL alike, and must never be skipped for want of a
server, so tests start their own: ``initdb`` into a temporary directory, trust authentication
on 127.0.0.1 and a private unix socket, fsync off (the data is thrown away). PostgreSQL refuses
to run as root, so under root the server runs as the ``postgres`` system user that Debian's
package creates.

Example:
    >>> with postgres_server() as server:                      # doctest: +SKIP
    ...     url = server.create_database("scratch")            # postgresql://postgres@127.0.0.1:PORT/scratch
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import LiteralString

INSTALL_HINT = (
    "install it with `apt-get install postgresql` (Debian/Ubuntu), or put initdb and pg_ctl on PATH"
)


class PostgresUnavailable(RuntimeError):
    """PostgreSQL's server binaries are missing or the server did not start."""


def find_bindir() -> Path:
    """The directory holding ``initdb`` and ``pg_ctl``: Debian's newest version, else PATH."""

    def version(path: str) -> tuple[int, ...]:
        name = Path(path).parent.parent.name  # /usr/lib/postgresql/<version>/bin/initdb
        return tuple(int(part) for part in name.split(".") if part.isdigit())

    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=version)
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    if initdb and shutil.which("pg_ctl"):
        return Path(initdb).parent
    raise PostgresUnavailable(f"PostgreSQL server binaries (initdb, pg_ctl) not found: {INSTALL_HINT}")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_server_user() -> list[str]:
    """The command prefix that runs a program as a user PostgreSQL accepts."""
    if os.geteuid() != 0:
        return []
    if shutil.which("runuser"):
        return ["runuser", "-u", "postgres", "--"]
    return ["su", "postgres", "-s", "/bin/sh", "-c", '"$0" "$@"']


def _run(command: list[str], what: str, log: Path | None = None) -> None:
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    if result.returncode != 0:
        tail = log.read_text(errors="replace")[-2000:] if log is not None and log.exists() else ""
        raise PostgresUnavailable(
            f"{what} failed (exit {result.returncode}): {result.stderr.strip() or result.stdout.strip()}\n{tail}"
        )


def _checked(name: str) -> str:
    if not name.replace("_", "").isalnum() or not name.isascii():
        raise ValueError(f"names here are ASCII letters, digits and underscores: {name!r}")
    return name


@dataclass
class PostgresServer:
    """A running server: ``url`` reaches its ``postgres`` database as the superuser."""

    host: str
    port: int
    socket_dir: Path
    _scratch: bool = False
    _data: Path | None = None

    def restart(self) -> None:
        """Stops the server (fast: every connection is dropped) and starts it again on its port."""
        assert self._data is not None, "only a server postgres_server() started can be restarted"
        _run([*_as_server_user(), str(find_bindir() / "pg_ctl"), "-D", str(self._data), "-l",
              str(self.socket_dir / "server.log"), "-m", "fast", "-w", "-t", "60", "restart"],
             "pg_ctl restart", self.socket_dir / "server.log")

    @property
    def url(self) -> str:
        return f"postgresql://postgres@{self.host}:{self.port}/postgres"

    def create_schema(self, name: str | None = None) -> str:
        """Creates an empty schema in a shared scratch database and returns a URL whose
        connections use it (``search_path``). As good as a fresh database for code that
        uses the default schema, and a thousand times faster to make than one."""
        name = _checked(name or f"test_{uuid.uuid4().hex[:12]}")
        if not self._scratch:
            self.create_database("scratch")
            self._scratch = True
        self._execute("scratch", "CREATE SCHEMA {}", name)
        return f"postgresql://postgres@{self.host}:{self.port}/scratch?options=-csearch_path%3D{name}"

    def _execute(self, dbname: str, template: LiteralString, name: str) -> None:
        import psycopg
        from psycopg import sql

        with psycopg.connect(
            host=self.host, port=self.port, user="postgres", dbname=dbname, autocommit=True
        ) as conn:
            conn.execute(sql.SQL(template).format(sql.Identifier(name)))

    def create_database(self, name: str | None = None) -> str:
        """Creates an empty database (a fresh random name by default) and returns its URL."""
        name = _checked(name or f"test_{uuid.uuid4().hex[:12]}")
        self._execute("postgres", "CREATE DATABASE {}", name)
        return f"postgresql://postgres@{self.host}:{self.port}/{name}"


@contextlib.contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    """Starts a private PostgreSQL server; stops it and deletes its files on exit, even on error."""
    bindir = find_bindir()
    prefix = _as_server_user()
    root = Path(tempfile.mkdtemp(prefix="actsearch-pg-"))
    data, log = root / "data", root / "server.log"
    started = False
    try:
        if prefix:
            try:
                shutil.chown(root, user="postgres", group="postgres")
            except LookupError as error:
                raise PostgresUnavailable(
                    f"running as root needs the 'postgres' system user ({error}): {INSTALL_HINT}"
                ) from error
        _run(
            [
                *prefix,
                str(bindir / "initdb"),
                "-D",
                str(data),
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--no-locale",
                "--no-sync",
            ],
            "initdb",
        )
        port = _free_port()
        options = (
            f"-c listen_addresses=127.0.0.1 -p {port} -k {root} -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        _run(
            [
                *prefix,
                str(bindir / "pg_ctl"),
                "-D",
                str(data),
                "-l",
                str(log),
                "-o",
                options,
                "-w",
                "-t",
                "60",
                "start",
            ],
            "pg_ctl start",
            log,
        )
        started = True
        yield PostgresServer(host="127.0.0.1", port=port, socket_dir=root, _data=data)
    finally:
        if started:
            subprocess.run(
                [*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
                capture_output=True,
                timeout=60,
                check=False,
            )
        shutil.rmtree(root, ignore_errors=True)
