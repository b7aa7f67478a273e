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
    candidates_done: int = Field(description=(
        "the search's candidates with a finished search evaluation (the baselines, trained beside them, not "
        "counted; a baseline function the search proposes too counts as a baseline until the budget stops it)"))
    candidates_budget: int | None = Field(description="budget.candidates of the spec")
    fraction: float | None = Field(description="candidates_done / candidates_budget")
    evaluations_done: int
    rejected: int
    failed: int
    confirm_evaluations: int | None = Field(description=(
        "the evaluations (one per seed) the confirm phase trains: the top-k and the baselines on every confirm "
        "task; null before the confirm phase"))
    confirm_done: int | None = Field(description="of confirm_evaluations, those finished")
    confirm_eta_seconds: float | None = Field(description=(
        "the confirm phase's seconds left as of elapsed_seconds, from its rate so far (null until one of its "
        "evaluations has finished, 0 once all have)"))


class BaselinePublic(BaseModel):
    name: str = Field(description="the published name (ReLU, SiLU), else the expression")
    expression: str
    candidate_id: int = Field(description="its row among the job's candidates (it ranks on the leaderboard)")


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
    baselines: list[BaselinePublic] = Field(description=(
        "the functions trained beside the candidates (JobSpec.baselines), stored as candidates of the job; "
        "empty before the runner stores them and in a job without baselines"))
    spec: dict[str, Any] = Field(description="the validated JobSpec, defaults filled in")


class JobSubmitted(JobPublic):
    warnings: list[str] = Field(description=(
        "what will not stop the job but may surprise, e.g. a space smaller than budget.candidates"))


class JobsPublic(BaseModel):
    data: list[JobPublic]
    count: int = Field(description="jobs matching the filters, all pages")


class Relative(BaseModel):
    name: str = Field(description="the baseline")
    difference: float = Field(description=(
        "this candidate's score minus the baseline's: the confirmed means when both are confirmed, else the "
        "search fitnesses (in a job of several tasks, the combined normalised scores)"))
    spread: float | None = Field(description=(
        "the standard error of the difference over the confirm seeds, sqrt(std² + std_baseline²) / sqrt(seeds); "
        "null unless both confirmed means have a std"))


class SeedsPublic(BaseModel):
    mean: float | None = Field(description="mean fitness over the seeds that trained finitely")
    std: float | None
    seeds: int = Field(description="seeds that trained to a finite fitness")
    of: int = Field(description="seeds run")
    reason: str | None = Field(description="why the first seed that did not train failed")


class TaskVerdict(SeedsPublic):
    baselines: dict[str, SeedsPublic] = Field(description="each baseline's numbers on the task, by name")
    fails: str | None = Field(description="why the candidate does not transfer to this task; null: it does")


class VerdictBrief(BaseModel):
    transfers: bool = Field(description="trains finitely on every confirm task and is not clearly worse than "
                                        "the weakest baseline anywhere")
    summary: str = Field(description="'transfers', or 'fails on TASK: why; …'")
    fails_on: list[str] = Field(description="the tasks it fails on")


class Verdict(VerdictBrief):
    tasks: dict[str, TaskVerdict] = Field(description="per confirm task: the candidate's numbers beside the baselines'")


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
    baseline: str | None = Field(description="the baseline's name when this is one of the job's baselines")
    vs_baselines: list[Relative] = Field(description=(
        "the score relative to each baseline (but itself) with a score to compare with"))


class LeaderboardRow(CandidateFields):
    rank: int
    candidate_id: int
    verdict: VerdictBrief | None = Field(description="the confirm phase's transfer verdict; null: none yet")


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
    verdict: Verdict | None = Field(description="the confirm phase's transfer verdict, task by task; null: none yet")


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
