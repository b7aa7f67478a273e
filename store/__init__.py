"""Persistence: SQLAlchemy models, keyword-only persistence functions, Alembic migrations.

Plain persistence: callers pass already-computed strings and dicts; nothing here imports torch,
ray or the other actsearch packages. Every function takes the session explicitly, and a
``Database.session()`` block is one transaction.

Example:
    >>> import store
    >>> db = store.connect("sqlite:///actsearch.db")              # doctest: +SKIP
    >>> with db.session() as session:                             # doctest: +SKIP
    ...     job = store.create_job(session=session, name="demo", owner="me", spec={"seed": 0})
    ...     claimed = store.claim_job(session=session, runner="runner-1", lease_seconds=60)
"""

from sqlalchemy.orm import Session

from store._candidates import (
    RANK_ORDER,
    SHOWN,
    CandidateView,
    JobView,
    RankKey,
    add_candidate,
    authenticate_for_job,
    candidates_view,
    count_candidates,
    describe_candidate,
    find_candidate,
    finished_candidates,
    get_candidate,
    leaderboard,
    leaderboard_view,
)
from store._confirm import best_candidates, evaluation_results, settle_candidate
from store._db import Database, StoreError, connect, display_url, normalize_url
from store._encode import LosslessJSON
from store._evaluations import (
    add_evaluation,
    add_evaluations,
    finish_evaluation,
    job_results,
    list_evaluations,
    population_sizes,
)
from store._events import append_event, events_after
from store._home import HOME_ENV, data_dir, default_url, home
from store._insights import evaluation_counts, fitness_trace, last_event_id, rejection_reasons
from store._jobs import count_active_jobs, create_job, get_job, list_jobs, request_cancel
from store._leases import LeaseLost, claim_job, finish_job, release_job, renew_lease, save_progress
from store._migrate import migrate
from store._models import (
    COMBINED,
    EVALUATION_PHASES,
    FAILED,
    FINISHED_RESULTS,
    JOB_ACTIVE,
    JOB_CANCELLED,
    JOB_COMPLETED,
    JOB_FAILED,
    JOB_FINISHED,
    JOB_QUEUED,
    JOB_RUNNING,
    JOB_STATUSES,
    OK,
    PENDING,
    PHASE_CONFIRM,
    PHASE_PART,
    PHASE_SEARCH,
    PHASES,
    REJECTED,
    RESULT_STATUSES,
    Base,
    Candidate,
    Evaluation,
    Event,
    Job,
    Token,
    utcnow,
)
from store._stats import service_stats
from store._tokens import Caller, authenticate, create_token, get_token, list_tokens, revoke_token

# Session: the type of a ``Database.session()`` block, for callers' annotations.
__all__ = ["Database", "LosslessJSON", "Session", "StoreError", "connect", "display_url", "migrate", "normalize_url"]
__all__ += ["HOME_ENV", "data_dir", "default_url", "home"]
__all__ += ["Base", "Candidate", "Evaluation", "Event", "Job", "Token", "utcnow"]
__all__ += ["JOB_ACTIVE", "JOB_CANCELLED", "JOB_COMPLETED", "JOB_FAILED", "JOB_FINISHED", "JOB_QUEUED"]
__all__ += ["JOB_RUNNING", "JOB_STATUSES", "PHASES", "PHASE_CONFIRM", "PHASE_SEARCH", "PHASE_PART", "COMBINED",
            "EVALUATION_PHASES"]
__all__ += ["FAILED", "FINISHED_RESULTS", "OK", "PENDING", "REJECTED", "RESULT_STATUSES"]
__all__ += ["count_active_jobs", "create_job", "get_job", "list_jobs", "request_cancel"]
__all__ += ["LeaseLost", "claim_job", "finish_job", "release_job", "renew_lease", "save_progress"]
__all__ += ["RANK_ORDER", "SHOWN", "CandidateView", "JobView", "RankKey"]
__all__ += ["add_candidate", "count_candidates", "find_candidate", "get_candidate", "leaderboard", "leaderboard_view"]
__all__ += ["authenticate_for_job", "candidates_view", "describe_candidate", "finished_candidates"]
__all__ += ["add_evaluation", "add_evaluations", "finish_evaluation", "job_results", "list_evaluations",
            "population_sizes"]
__all__ += ["evaluation_counts", "fitness_trace", "last_event_id", "rejection_reasons"]
__all__ += ["append_event", "events_after", "service_stats"]
__all__ += ["Caller", "authenticate", "create_token", "get_token", "list_tokens", "revoke_token"]
__all__ += ["best_candidates", "evaluation_results", "settle_candidate"]
