"""Bearer-token authentication and ownership.

A job belongs to the owner of the token that submitted it. Other owners get 404 for it, never
403, so ids do not reveal what exists; admin tokens see everything.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

import store
from api._deps import DatabaseDep

bearer = HTTPBearer(auto_error=False, description="An API token: `actsearch token create --name NAME`.")


@dataclass(frozen=True)
class Principal:
    """Who is calling: the token's owner and its quotas (None: the service default)."""

    token_id: int
    owner: str
    is_admin: bool
    max_concurrent_jobs: int | None
    max_candidates: int | None

    def may_see(self, owner: str) -> bool:
        return self.is_admin or owner == self.owner


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(401, message, headers={"WWW-Authenticate": "Bearer"})


async def bearer_secret(credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> str:
    """The secret the request carries (401 without one), not yet checked: :func:`authorize` does."""
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise _unauthorized("missing bearer token: send 'Authorization: Bearer <token>'")
    return credentials.credentials


BearerSecret = Annotated[str, Depends(bearer_secret)]


def authorize(session: store.Session, secret: str) -> Principal:
    """Who sends ``secret``: a live token's principal, else 401 (unknown or revoked)."""
    return principal_of(store.authenticate(session=session, secret=secret))


def principal_of(caller: store.Caller | None) -> Principal:
    """The principal of an authenticated token (``store.authenticate``'s answer); 401 for None."""
    if caller is None:
        raise _unauthorized("invalid or revoked token")
    return Principal(caller.id, caller.owner, caller.is_admin, caller.max_concurrent_jobs, caller.max_candidates)


def current_token(database: DatabaseDep, secret: BearerSecret) -> Principal:
    """The caller, checked in a session of its own. A hot read route takes :data:`BearerSecret`
    instead and calls :func:`authorize` in the session it reads with: one connection and one
    thread hop fewer per request (there is no session dependency, see api._deps)."""
    with database.reads() as session:
        return authorize(session, secret)


CurrentToken = Annotated[Principal, Depends(current_token)]


def owned_job(session: store.Session, principal: Principal, job_id: int) -> store.Job:
    """The job, if it exists and the caller may see it; 404 otherwise."""
    job = store.get_job(session=session, job_id=job_id)
    if job is None or not principal.may_see(job.owner):
        raise HTTPException(404, f"job {job_id} not found")
    return job


def owned_candidate(session: store.Session, principal: Principal, candidate_id: int) -> store.Candidate:
    """The candidate, if it exists and its job is the caller's; 404 otherwise."""
    candidate = store.get_candidate(session=session, candidate_id=candidate_id)
    if candidate is not None:
        job = store.get_job(session=session, job_id=candidate.job_id)
        if job is not None and principal.may_see(job.owner):
            return candidate
    raise HTTPException(404, f"candidate {candidate_id} not found")
