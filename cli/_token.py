"""``actsearch token create|list|revoke``: API tokens, straight in the store (no server needed)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from cli._db_option import add_db_option, database_url
from cli._errors import CliError


def _database(args: argparse.Namespace) -> Any:
    import store

    try:
        return store.connect(database_url(args.db))
    except store.StoreError as exc:
        raise CliError(str(exc)) from None


def cmd_create(args: argparse.Namespace) -> None:
    import store

    database = _database(args)
    try:
        with database.session() as session:
            token, secret = store.create_token(
                session=session, name=args.name, owner=args.owner or args.name, is_admin=args.admin,
                max_concurrent_jobs=args.max_concurrent_jobs, max_candidates=args.max_candidates)
            info = {"id": token.id, "name": token.name, "owner": token.owner, "admin": token.is_admin,
                    "secret": secret}
    finally:
        database.dispose()
    if args.json:
        print(json.dumps(info, sort_keys=True))
    else:
        print(secret)
        print(f"(token {info['id']} for {info['owner']!r}; the secret is shown only now)")


def cmd_list(args: argparse.Namespace) -> None:
    import store

    database = _database(args)
    try:
        with database.session() as session:
            rows = [{"id": t.id, "name": t.name, "owner": t.owner, "admin": t.is_admin, "prefix": t.prefix,
                     "revoked": t.revoked_at is not None, "max_concurrent_jobs": t.max_concurrent_jobs,
                     "max_candidates": t.max_candidates}
                    for t in store.list_tokens(session=session)]
    finally:
        database.dispose()
    if args.json:
        print(json.dumps({"data": rows}, sort_keys=True))
        return
    for row in rows:
        state = "revoked" if row["revoked"] else ("admin" if row["admin"] else "user")
        print(f"{row['id']:>4}  {row['prefix']}…  {state:<7}  {row['owner']:<16}  {row['name']}")


def cmd_revoke(args: argparse.Namespace) -> None:
    import store

    database = _database(args)
    try:
        with database.session() as session:
            token = store.revoke_token(session=session, token_id=args.token_id)
    finally:
        database.dispose()
    if token is None:
        raise CliError(f"no token {args.token_id}")
    print(json.dumps({"id": args.token_id, "revoked": True}) if args.json else f"token {args.token_id} revoked")


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def add_parser(sub: Any) -> None:
    p = sub.add_parser("token", help="create, list or revoke API tokens (direct database access)")
    actions = p.add_subparsers(dest="action", required=True)

    def action(name: str, help: str, handler: Any) -> argparse.ArgumentParser:
        q = actions.add_parser(name, help=help)
        add_db_option(q)
        q.add_argument("--json", action="store_true", help="print one JSON object")
        q.set_defaults(handler=handler)
        return q

    q = action("create", "create a token and print its secret (once)", cmd_create)
    q.add_argument("--name", required=True, help="what the token is for, e.g. alice-laptop")
    q.add_argument("--owner", help="who owns the jobs it submits (default: the name)")
    q.add_argument("--admin", action="store_true", help="sees and cancels every owner's jobs")
    q.add_argument("--max-concurrent-jobs", type=_positive, help="queued + running jobs at once")
    q.add_argument("--max-candidates", type=_positive, help="budget.candidates per job at most")
    action("list", "list tokens (secrets are never shown again)", cmd_list)
    q = action("revoke", "revoke a token for good", cmd_revoke)
    q.add_argument("token_id", type=int)
