"""Response shapes, one family per resource (``JobPublic``, ``JobsPublic{data, count}``, ...).

Non-finite floats inside free-form JSON (metrics, properties, summaries) are sent as the
strings ``"NaN"``, ``"Infinity"`` and ``"-Infinity"``; scalar fitness columns are always finite.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

MAX_PAGE = 500
MAX_ID = 2**31 - 1  # ids are 32-bit integers on PostgreSQL

JobStatus = Literal["queued", "running", "completed", "failed", "cancelled"]
ResultStatus = Literal["pending", "ok", "rejected", "failed"]
# candidates/seconds/exhausted: the search loop's own reasons (search.SearchSummary.stop)
StopReason = Literal["candidates", "seconds", "exhausted", "cancelled", "failed"]


class Message(BaseModel):
    detail: str


class ErrorItem(BaseModel):
    loc: list[str | int] = Field(description="where: e.g. ['body', 'budget', 'candidates']")
    msg: str
    type: str


class ValidationErrors(BaseModel):
    detail: list[ErrorItem]


class Progress(BaseModel):
    candidates_done: int = Field(description="candidates with a finished search evaluation")
    candidates_budget: int | None = Field(description="budget.candidates of the spec")
    fraction: float | None = Field(description="candidates_done / candidates_budget")
    evaluations_done: int
    rejected: int
    failed: int


class JobPublic(BaseModel):
    id: int
    name: str
    owner: str
    status: JobStatus
    phase: str | None = Field(description="search or confirm while running")
    cancel_requested: bool
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    progress: Progress
    best_fitness: float | None
    elapsed_seconds: float = Field(description="search time used so far")
    error: str | None
    stop_reason: StopReason | None = Field(description=(
        "why the search stopped: `candidates` (budget.candidates used), `seconds` (budget.seconds ran out), "
        "`exhausted` (the space held no new function), `cancelled`, `failed`; null while it searches"))
    summary: Any | None
    spec: dict[str, Any] = Field(description="the validated JobSpec, defaults filled in")


class JobSubmitted(JobPublic):
    warnings: list[str] = Field(description=(
        "what will not stop the job but may surprise, e.g. a space smaller than budget.candidates"))


class JobsPublic(BaseModel):
    data: list[JobPublic]
    count: int = Field(description="jobs matching the filters, all pages")


class CandidateFields(BaseModel):
    """What a leaderboard row and a candidate share (filled by ``api._views``)."""

    number: int = Field(description="order of proposal within the job")
    expression: str
    canonical: str
    latex: str
    status: ResultStatus
    fitness: float | None = Field(description="search fitness at the highest fidelity")
    fidelity: int | None = Field(description="training steps of fitness")
    confirmed_mean: float | None
    confirmed_std: float | None
    confirmed_seeds: int
    known_as: str | None
    known_params: dict[str, Any] | None
    cost: float | None
    properties: dict[str, Any]


class LeaderboardRow(CandidateFields):
    rank: int
    candidate_id: int


class LeaderboardPublic(BaseModel):
    job_id: int
    data: list[LeaderboardRow]
    count: int = Field(description="candidates of the job, all pages")
    next_cursor: str | None = Field(description=(
        "pass as `cursor` for the page after this one (null: this is the last page). A page by cursor "
        "costs the same at any depth, and rows that arrive between requests do not repeat a row"))


class CandidatePublic(CandidateFields):
    id: int
    job_id: int
    fingerprint: str
    torch_source: str = Field(description="the PyTorch code that was evaluated")
    created_at: datetime


class EvaluationPublic(BaseModel):
    id: int
    candidate_id: int
    task: str
    seed: int
    steps: int
    phase: str
    status: ResultStatus
    fitness: float | None
    metrics: dict[str, Any] = Field(description=(
        "the task's metrics, plus `steps_trained` and `steps_per_second`: the rate of the training loop, which "
        "in a population is shared (every member advances one step per step), so it is not divided by "
        "`population` as `wall_time` is; data loading, building the networks and validation are not steps"))
    reason: str | None = Field(description="why it was rejected or failed")
    detail: str | None
    wall_time: float | None = Field(description=(
        "seconds; trained in a population, this evaluation's share of the population's wall time (that time "
        "divided by `population`): the shares of a population add up to its time"))
    population: int | None = Field(description=(
        "evaluations trained together with this one as one batched network, itself included (1: alone); "
        "null when it did not train"))
    worker: str | None = Field(description="`host:pid`, and `:node_id` on Ray")
    attempts: int
    created_at: datetime
    finished_at: datetime | None


class EvaluationsPublic(BaseModel):
    data: list[EvaluationPublic]
    count: int


class ParseRequest(BaseModel):
    expression: str = Field(examples=["x * sigmoid(beta * x)"], description="ordinary math, e.g. max(x, 0)")


class ParseResult(BaseModel):
    expression: str
    canonical: str
    latex: str
    known_as: str | None
    known: dict[str, Any] | None
    fingerprint: str
    operators: list[str]
    parameters: dict[str, float]
    cost: float
    size: int
    properties: dict[str, Any]


class OperatorPublic(BaseModel):
    name: str
    arity: int
    latex: str
    cost: float
    has_beta: bool
    beta_init: float
    guard: str
    searchable: bool
    description: str


class TaskPublic(BaseModel):
    name: str
    description: str
    objective: str | None = Field(description="the metric fitness is made of ('-' : minimized)")
    budget: dict[str, Any] | None = Field(description="default training budget; null: set by options")
    quality_floor: float | None
    quality_min_steps: int | None = Field(description="the quality check never runs before this step")
    device: str | None


class ControllerPublic(BaseModel):
    kind: str
    description: str
    params: dict[str, Any] = Field(description="parameter names and their defaults")


class KnownPublic(BaseModel):
    name: str
    aliases: list[str]
    formula: str
    canonical: str
    paper: str
    authors: str
    year: int
    parametric: bool
    params: list[str]
    note: str


class Health(BaseModel):
    status: Literal["ok", "unavailable"]
    database: str
