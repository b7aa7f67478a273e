"""API tokens. The secret is shown once, at creation; only its sha256 is stored.

A sha256 (not a slow password hash) is right here: the secret is 32 random bytes, so there is
nothing to brute-force, and lookups by hash stay fast enough to run on every request.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from store._jobs import execute_dml, execute_plain
from store._models import Token, utcnow

# last_used_at is informational; writing it on every request would make reads into writes.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _new_secret() -> str:
    """32 random bytes, URL-safe, never starting with "-".

    A leading "-" (1 secret in 64) made ``actsearch jobs --token SECRET`` read the secret as an
    option; drawing again costs under a bit of the 256.
    """
    while (secret := secrets.token_urlsafe(32)).startswith("-"):
        pass
    return secret


def create_token(
    *,
    session: Session,
    name: str,
    owner: str,
    is_admin: bool = False,
    max_concurrent_jobs: int | None = None,
    max_candidates: int | None = None,
) -> tuple[Token, str]:
    """A new token and its secret. The secret is not stored: give it to the user now."""
    secret = _new_secret()
    token = Token(
        name=name,
        owner=owner,
        token_hash=hash_secret(secret),
        prefix=secret[:8],
        is_admin=is_admin,
        max_concurrent_jobs=max_concurrent_jobs,
        max_candidates=max_candidates,
    )
    session.add(token)
    session.flush()
    return token, secret


class Caller(NamedTuple):
    """What a request needs of the token it came with (:func:`authenticate`)."""

    id: int
    owner: str
    is_admin: bool
    max_concurrent_jobs: int | None
    max_candidates: int | None
    last_used_at: datetime | None


# Plain columns, not an ORM token: read on every request, they cost a third of one.
TOKEN_CHECK = (Token.id, Token.owner, Token.is_admin, Token.max_concurrent_jobs, Token.max_candidates,
               Token.last_used_at, Token.token_hash, Token.revoked_at)  # a Caller's, then what checks it
_BY_HASH = select(*TOKEN_CHECK).where(Token.token_hash == bindparam("digest"))


def authenticate(*, session: Session, secret: str) -> Caller | None:
    """The live token whose secret this is, or None (unknown or revoked).

    The lookup is by hash, so the secret itself is never compared against stored data; the
    final comparison is constant-time all the same.
    """
    digest = hash_secret(secret)
    row = execute_plain(session, _BY_HASH, {"digest": digest}).first()
    return None if row is None else checked_caller(session, tuple(row), digest)


def checked_caller(session: Session, values: tuple[Any, ...], digest: str) -> Caller | None:
    """The caller of a token read by hash (``values``: the columns of ``TOKEN_CHECK``, in order), or
    None if it is revoked; notes its use (at most once per ``LAST_USED_RESOLUTION``)."""
    *fields, token_hash, revoked_at = values
    if revoked_at is not None or not hmac.compare_digest(token_hash, digest):
        return None
    caller = Caller._make(fields)
    now = utcnow()
    if caller.last_used_at is None or now - caller.last_used_at >= LAST_USED_RESOLUTION:
        execute_dml(session, update(Token).where(Token.id == caller.id).values(last_used_at=now))
        caller = caller._replace(last_used_at=now)
    return caller


def get_token(*, session: Session, token_id: int) -> Token | None:
    return session.get(Token, token_id, populate_existing=True)


def list_tokens(*, session: Session, owner: str | None = None, include_revoked: bool = True) -> list[Token]:
    """Tokens, oldest first, optionally of one owner and without revoked ones."""
    query = select(Token).order_by(Token.id)
    if owner is not None:
        query = query.where(Token.owner == owner)
    if not include_revoked:
        query = query.where(Token.revoked_at.is_(None))
    return list(session.scalars(query.execution_options(populate_existing=True)))


def revoke_token(*, session: Session, token_id: int) -> Token | None:
    """Revokes a token for good (revoking twice keeps the first time). None if it does not exist."""
    execute_dml(
        session,
        update(Token).where(Token.id == token_id, Token.revoked_at.is_(None)).values(revoked_at=utcnow()),
    )
    return get_token(session=session, token_id=token_id)
