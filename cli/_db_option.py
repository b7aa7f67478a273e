"""``--db`` of ``serve``, ``worker`` and ``token``: one rule for which database they open.

``--db``, else ``$ACTSEARCH_DB``, else ``actsearch.db`` in the service's folder
(:func:`store.home`: ``$ACTSEARCH_HOME`` or ``~/.local/share/actsearch``) — never a file in
the current directory, so the three agree wherever they are started. A relative SQLite path is
made absolute once, here, so every message that names it names the same file.
"""

from __future__ import annotations

import argparse
import os

DB_HELP = ("database URL: sqlite:///PATH (or a bare path) or postgresql://USER:PASSWORD@HOST/DB "
           "(env ACTSEARCH_DB; default actsearch.db in $ACTSEARCH_HOME, else ~/.local/share/actsearch)")


def add_db_option(p: argparse.ArgumentParser) -> None:
    # None (neither given nor in the environment) becomes the default only when the command
    # runs: computing it imports the store, which `actsearch --help` should not wait for.
    p.add_argument("--db", default=os.environ.get("ACTSEARCH_DB"), help=DB_HELP)


def database_url(given: str | None) -> str:
    """The URL to open for ``--db given``: absolute for SQLite."""
    import store

    url = given or os.environ.get("ACTSEARCH_DB") or store.default_url()
    if "://" not in url or url.lower().startswith(("sqlite://", "sqlite+pysqlite://")):
        try:
            url = store.normalize_url(url)
        except store.StoreError:
            return url  # connect() says what is wrong with it
        path, _, query = url.removeprefix("sqlite:///").partition("?")
        url = f"sqlite:///{os.path.abspath(path)}" + (f"?{query}" if query else "")
    return url


def shown(url: str) -> str:
    """``url`` to print: a PostgreSQL password is masked (the console may be logged)."""
    import store

    return store.display_url(url)
