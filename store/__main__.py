"""``python -m store upgrade|current|revision``: Alembic for developers, without an alembic.ini."""

from __future__ import annotations

import argparse
import os

from alembic import command

from store._db import create_store_engine
from store._home import default_url
from store._migrate import alembic_config, migrate


def main(argv: list[str] | None = None) -> None:
    """``python -m store upgrade|revision ...``: a developer's entry to Alembic."""
    parser = argparse.ArgumentParser(prog="python -m store")
    parser.add_argument("action", choices=["upgrade", "revision", "current"])
    parser.add_argument("--url", default=os.environ.get("ACTSEARCH_DB") or default_url(),
                        help="database URL (env ACTSEARCH_DB, as for actsearch serve and worker; default %(default)s)")
    parser.add_argument("-m", "--message", default="")
    parser.add_argument("--autogenerate", action="store_true")
    args = parser.parse_args(argv)
    if args.action == "upgrade":
        migrate(args.url)
        return
    engine = create_store_engine(args.url)
    with engine.connect() as connection:
        config = alembic_config(connection)
        if args.action == "current":
            command.current(config, verbose=True)
        else:
            command.revision(config, message=args.message, autogenerate=args.autogenerate)
    engine.dispose()


if __name__ == "__main__":
    main()
