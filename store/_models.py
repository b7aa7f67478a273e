"""The tables. Rows are the source of truth: a controller can always be rebuilt from them.

Timestamps are naive UTC (``utcnow()``), the same on SQLite (which has no time zones) and
PostgreSQL. JSON columns use :class:`~store._encode.LosslessJSON` so NaN and ±inf survive;
scalar float columns accept only finite numbers or None (a validator names the column).
Changing a model needs a new migration under ``store/migrations/versions``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    DateTime,
    Double,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, validates

from store._encode import LosslessJSON, check_finite

JOB_QUEUED, JOB_RUNNING, JOB_COMPLETED, JOB_FAILED, JOB_CANCELLED = (
    "queued",
    "running",
    "completed",
    "failed",
    "cancelled",
)
JOB_STATUSES = (JOB_QUEUED, JOB_RUNNING, JOB_COMPLETED, JOB_FAILED, JOB_CANCELLED)
JOB_FINISHED = (JOB_COMPLETED, JOB_FAILED, JOB_CANCELLED)
JOB_ACTIVE = (JOB_QUEUED, JOB_RUNNING)

PHASE_SEARCH, PHASE_CONFIRM = "search", "confirm"
PHASES = (PHASE_SEARCH, PHASE_CONFIRM)  # of jobs
# Of evaluations too: in a job scored on several tasks, each task's training is a "part" and the
# candidate's score is a COMBINED row (search or confirm) that the runner writes from the parts.
PHASE_PART = "part"
EVALUATION_PHASES = (*PHASES, PHASE_PART)
COMBINED = "(combined)"  # the task name of a combined row; no task can register it

PENDING, OK, REJECTED, FAILED = "pending", "ok", "rejected", "failed"
RESULT_STATUSES = (PENDING, OK, REJECTED, FAILED)  # of candidates and evaluations
FINISHED_RESULTS = (OK, REJECTED, FAILED)


def utcnow() -> datetime:
    """Now, as a naive UTC datetime (what every timestamp column holds)."""
    return datetime.now(UTC).replace(tzinfo=None)


# Named constraints, so later migrations (and SQLite batch mode) can refer to them.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Job(Base):
    """A search a user submitted, with its lease (which runner works on it) and progress."""

    __tablename__ = "jobs"
    # SQLite reuses the largest rowid after a delete unless told not to; a job id is a URL.
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200))
    owner: Mapped[str] = mapped_column(String(200), index=True)  # the token owner name
    spec: Mapped[dict[str, Any]] = mapped_column(LosslessJSON)  # the full validated JobSpec
    status: Mapped[str] = mapped_column(String(16), index=True, default=JOB_QUEUED)
    phase: Mapped[str | None] = mapped_column(String(16), default=None)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime, default=None)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime, default=None)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)
    lease_owner: Mapped[str | None] = mapped_column(String(200), default=None)
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTime, default=None)
    claims: Mapped[int] = mapped_column(Integer, default=0)  # times a runner claimed it
    controller_state: Mapped[Any | None] = mapped_column(LosslessJSON, default=None)
    elapsed_seconds: Mapped[float] = mapped_column(Double, default=0.0)  # search time used, for resuming
    candidates_done: Mapped[int] = mapped_column(Integer, default=0)  # with a finished search evaluation
    # every candidate stored, so the leaderboard's total is a column read, not a count(*)
    candidates_proposed: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    evaluations_done: Mapped[int] = mapped_column(Integer, default=0)  # finished, any status
    rejected: Mapped[int] = mapped_column(Integer, default=0)  # evaluations finished as rejected
    failed: Mapped[int] = mapped_column(Integer, default=0)  # evaluations finished as failed
    best_fitness: Mapped[float | None] = mapped_column(Double, default=None)  # max candidate fitness
    error: Mapped[str | None] = mapped_column(Text, default=None)
    summary: Mapped[Any | None] = mapped_column(LosslessJSON, default=None)

    @validates("elapsed_seconds", "best_fitness")
    def _validate_float(self, key: str, value: float | None) -> float | None:
        return check_finite(f"jobs.{key}", value)

    def __repr__(self) -> str:
        return f"Job(id={self.id!r}, name={self.name!r}, status={self.status!r})"


class Candidate(Base):
    """One distinct function proposed in a job (stored once per job, keyed by fingerprint)."""

    __tablename__ = "candidates"
    __table_args__ = (
        UniqueConstraint("job_id", "fingerprint"),
        # The leaderboard's ORDER BY, so a page is an index range scan, not a sort of the whole
        # job (measured: deep pages 2.8 -> 39.5 requests/s at 100,000 candidates). SQLite puts
        # NULLs last under DESC by itself and refuses NULLS LAST in an index; PostgreSQL needs it.
        # The order ends with the id, so that it is total and a page can start after a row's key
        # (keyset paging); SQLite's index ends with the rowid, which the id is, by itself.
        Index("ix_candidates_rank", "job_id", text("confirmed_mean DESC NULLS LAST"),
              text("fitness DESC NULLS LAST"), "number", "id").ddl_if(dialect="postgresql"),
        Index("ix_candidates_rank_sqlite", "job_id", text("confirmed_mean DESC"), text("fitness DESC"),
              "number").ddl_if(dialect="sqlite"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # Indexed by ix_candidates_leaderboard, which starts with job_id.
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    # Order of proposal within the job. No unique constraint: numbering is serialized by the
    # job row lock in add_candidate, and a constraint would only turn a bug into a crash.
    number: Mapped[int] = mapped_column(Integer)
    fingerprint: Mapped[str] = mapped_column(String(32))
    expression: Mapped[str] = mapped_column(Text)  # the printed expression
    expr_json: Mapped[Any] = mapped_column(LosslessJSON)
    canonical: Mapped[str] = mapped_column(Text)
    latex: Mapped[str] = mapped_column(Text)
    torch_source: Mapped[str] = mapped_column(Text)  # the code that was evaluated
    properties: Mapped[Any] = mapped_column(LosslessJSON)
    known_as: Mapped[str | None] = mapped_column(String(200), default=None)
    known_params: Mapped[Any | None] = mapped_column(LosslessJSON, default=None)
    cost: Mapped[float | None] = mapped_column(Double, default=None)
    status: Mapped[str] = mapped_column(String(16), default=PENDING)
    fitness: Mapped[float | None] = mapped_column(Double, default=None)  # at the highest fidelity
    fidelity: Mapped[int | None] = mapped_column(Integer, default=None)  # training steps of fitness
    confirmed_mean: Mapped[float | None] = mapped_column(Double, default=None)
    confirmed_std: Mapped[float | None] = mapped_column(Double, default=None)
    confirmed_seeds: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    @validates("cost", "fitness", "confirmed_mean", "confirmed_std")
    def _validate_float(self, key: str, value: float | None) -> float | None:
        return check_finite(f"candidates.{key}", value)

    def __repr__(self) -> str:
        return f"Candidate(id={self.id!r}, job_id={self.job_id!r}, expression={self.expression!r})"


class Evaluation(Base):
    """One training run of a candidate: a task, a seed and a number of steps (the fidelity)."""

    __tablename__ = "evaluations"
    __table_args__ = (
        # The guarantee that no evaluation runs twice: a crashed runner, a runner that lost its
        # lease, and a confirm phase asking again for a result the search already has all
        # get-or-create this row instead of training again. Phase is deliberately not part of
        # the key, so a confirm seed equal to a search seed reuses the search result.
        UniqueConstraint("candidate_id", "task", "seed", "steps"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    candidate_id: Mapped[int] = mapped_column(ForeignKey("candidates.id", ondelete="CASCADE"), index=True)
    task: Mapped[str] = mapped_column(String(200))
    seed: Mapped[int] = mapped_column(Integer)
    steps: Mapped[int] = mapped_column(Integer)  # the fidelity
    phase: Mapped[str] = mapped_column(String(16), default=PHASE_SEARCH)
    status: Mapped[str] = mapped_column(String(16), default=PENDING, index=True)
    fitness: Mapped[float | None] = mapped_column(Double, default=None)
    metrics: Mapped[Any] = mapped_column(LosslessJSON, default=dict)
    reason: Mapped[str | None] = mapped_column(String(200), default=None)  # why rejected/failed
    detail: Mapped[str | None] = mapped_column(Text, default=None)
    wall_time: Mapped[float | None] = mapped_column(Double, default=None)
    worker: Mapped[str | None] = mapped_column(String(200), default=None)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime, default=None, index=True)

    @validates("fitness", "wall_time")
    def _validate_float(self, key: str, value: float | None) -> float | None:
        return check_finite(f"evaluations.{key}", value)

    def __repr__(self) -> str:
        return (
            f"Evaluation(id={self.id!r}, candidate_id={self.candidate_id!r}, task={self.task!r}, "
            f"seed={self.seed!r}, steps={self.steps!r}, status={self.status!r})"
        )


class Event(Base):
    """Something that happened in a job; ``id`` is the global order and the SSE event id."""

    __tablename__ = "events"
    # Ids only grow, also on SQLite after deletes: clients resume "after id N".
    __table_args__ = (Index("ix_events_job_id_id", "job_id", "id"), {"sqlite_autoincrement": True})

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))  # ix_events_job_id_id
    kind: Mapped[str] = mapped_column(String(64))
    data: Mapped[Any] = mapped_column(LosslessJSON)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    def __repr__(self) -> str:
        return f"Event(id={self.id!r}, job_id={self.job_id!r}, kind={self.kind!r})"


class Token(Base):
    """An API token. Only the sha256 of the secret is stored; ``prefix`` identifies it to people."""

    __tablename__ = "tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200))
    owner: Mapped[str] = mapped_column(String(200), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 hex of the secret
    prefix: Mapped[str] = mapped_column(String(8))  # first 8 characters of the secret
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime, default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime, default=None)
    max_concurrent_jobs: Mapped[int | None] = mapped_column(Integer, default=None)
    max_candidates: Mapped[int | None] = mapped_column(Integer, default=None)

    def __repr__(self) -> str:
        return f"Token(id={self.id!r}, name={self.name!r}, owner={self.owner!r}, prefix={self.prefix!r})"
