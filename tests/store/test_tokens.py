"""API tokens: the secret is returned once and never stored."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import text, update

import store
from store import Database, Token


def test_secret_is_never_stored(database: Database) -> None:
    with database.session() as session:
        token, secret = store.create_token(
            session=session, name="laptop", owner="alice", max_concurrent_jobs=2
        )
    assert len(secret) >= 40 and token.prefix == secret[:8] and token.is_admin is False
    with database.session() as session:
        rows = session.execute(text("SELECT * FROM tokens")).all()
    dumped = repr(rows)
    assert secret not in dumped and secret[8:] not in dumped
    assert len(token.token_hash) == 64 and token.token_hash in dumped


def test_authenticate_and_revoke(database: Database) -> None:
    with database.session() as session:
        admin, admin_secret = store.create_token(session=session, name="ops", owner="root", is_admin=True)
        user, user_secret = store.create_token(session=session, name="ci", owner="bob", max_candidates=500)
    assert admin_secret != user_secret
    with database.session() as session:
        found = store.authenticate(session=session, secret=user_secret)
        assert (
            found is not None and found.id == user.id and found.owner == "bob" and found.max_candidates == 500
        )
        assert found.last_used_at is not None
        first_use = found.last_used_at
        assert store.authenticate(session=session, secret=user_secret + "x") is None
        assert store.authenticate(session=session, secret="") is None
        authed_admin = store.authenticate(session=session, secret=admin_secret)
        assert authed_admin is not None and authed_admin.is_admin
    with database.session() as session:
        again = store.authenticate(session=session, secret=user_secret)
        assert again is not None and again.last_used_at == first_use  # at most one write a minute
        long_ago = first_use - timedelta(minutes=5)
        session.execute(update(Token).where(Token.id == user.id).values(last_used_at=long_ago))
    with database.session() as session:
        later = store.authenticate(session=session, secret=user_secret)
        assert later is not None and later.last_used_at is not None and later.last_used_at > long_ago
    with database.session() as session:
        revoked = store.revoke_token(session=session, token_id=user.id)
        assert revoked is not None and revoked.revoked_at is not None
        assert store.revoke_token(session=session, token_id=10_000) is None
    with database.session() as session:
        assert store.authenticate(session=session, secret=user_secret) is None
        assert store.authenticate(session=session, secret=admin_secret) is not None
        assert [t.id for t in store.list_tokens(session=session)] == [admin.id, user.id]
        assert [t.id for t in store.list_tokens(session=session, include_revoked=False)] == [admin.id]
        assert [t.id for t in store.list_tokens(session=session, owner="bob")] == [user.id]
        fetched = store.get_token(session=session, token_id=admin.id)
        assert fetched is not None and fetched.name == "ops"


def test_a_secret_never_starts_with_a_dash(database: Database, monkeypatch) -> None:
    # A secret such as "-Iq…" is read as an option by `actsearch … --token SECRET`.
    draws = iter(["-first-draw-starts-with-a-dash", "-and-the-second", "Kx-fine"])
    monkeypatch.setattr(store._tokens.secrets, "token_urlsafe", lambda nbytes: next(draws))
    with database.session() as session:
        _, secret = store.create_token(session=session, name="cli", owner="alice")
    assert secret == "Kx-fine"


def test_authenticate_for_job_answers_as_authenticate_and_get_job_do(database: Database) -> None:
    """The leaderboard's one statement for its token and its job: the same answers as the two
    reads it replaces, for live, unknown and revoked tokens and for jobs that exist or not."""
    with database.session() as session:
        job = store.create_job(session=session, name="j", owner="bob", spec={})
        _, live = store.create_token(session=session, name="ci", owner="bob", max_concurrent_jobs=3)
        revoked_token, revoked = store.create_token(session=session, name="old", owner="bob")
        store.revoke_token(session=session, token_id=revoked_token.id)
    board_columns = ("id", "owner", "status", "phase", "updated_at", "candidates_proposed", "evaluations_done",
                     "summary")
    for secret in (live, revoked, live + "x", ""):
        for job_id in (job.id, job.id + 1):
            with database.session() as session:
                caller, board = store.authenticate_for_job(session=session, secret=secret, job_id=job_id)
                expected_caller = store.authenticate(session=session, secret=secret)
                expected_job = store.get_job(session=session, job_id=job_id)
                expected_board = None if expected_job is None else {
                    key: getattr(expected_job, key) for key in board_columns}
            assert caller == expected_caller, (secret, job_id)
            if caller is None or expected_board is None:
                assert board is None, (secret, job_id)
            else:  # the job's columns under their names (and the token's beside them)
                assert board is not None and {key: getattr(board, key) for key in board_columns} == expected_board
