"""Service settings, read from ``ACTSEARCH_*`` environment variables (pydantic-settings).

There are no secrets here: API tokens live hashed in the store and are created with
``actsearch token create`` (or once, by ``actsearch serve`` on its first start).

Example:
    >>> Settings(db="sqlite:///runs.db").max_body_bytes
    1000000
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_db() -> str:
    import store

    return store.default_url()


class Settings(BaseSettings):
    """What the API process needs; every field can be set as ``ACTSEARCH_<FIELD>``."""

    model_config = SettingsConfigDict(env_prefix="ACTSEARCH_", extra="ignore")

    db: str = Field(default_factory=_default_db)  # one file per user, not per directory (store/_home.py)
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    # A JobSpec is a few hundred bytes; 1 MB leaves room for long spaces and option blocks.
    max_body_bytes: int = Field(default=1_000_000, ge=1024)
    # Quotas of tokens that do not set their own (None: unlimited).
    default_max_concurrent_jobs: int | None = Field(default=None, ge=1)
    default_max_candidates: int | None = Field(default=None, ge=1)
    # Server-sent events: how often the store is polled for new events, and how long a quiet
    # stream waits before a keep-alive comment (proxies drop idle connections after ~60 s).
    sse_poll_seconds: float = Field(default=0.5, gt=0, le=60)
    sse_keepalive_seconds: float = Field(default=15.0, gt=0, le=300)
    # Requests one API process works on at once (its thread pool; the rest wait in arrival
    # order). Python runs one thread at a time: with 40 threads (anyio's default) 50 clients
    # made the leaderboard's p99 4x its median, with 2 it stays near it (bench/api_load.py).
    # Scale with --processes; raise it for a PostgreSQL far away (threads wait on the network).
    threads: int = Field(default=2, ge=1, le=1000)
    # How long a rendered leaderboard page may be served again while its job records nothing
    # new (any new result, status or phase renders it afresh); 0 turns the cache off.
    leaderboard_cache_seconds: float = Field(default=1.0, ge=0, le=60)
    # POST /expressions/parse: sympy may take minutes on a short formula; answer 422 instead.
    parse_seconds: float = Field(default=10.0, gt=0, le=600)
