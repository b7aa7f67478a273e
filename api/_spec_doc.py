"""The JobSpec as the OpenAPI schema shows it.

Documentation only: requests are validated by :meth:`worker._spec.JobSpec.from_json`, the one
authority on what a JobSpec is (a field added there works before it is documented here).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import GetJsonSchemaHandler, JsonSchemaValue
from pydantic_core import CoreSchema

EXAMPLE_SPEC: dict[str, Any] = {
    "name": "swish-rediscovery",
    "space": {"unary": ["x", "neg", "abs", "square", "sigmoid", "tanh", "sin", "exp", "relu"],
              "binary": ["add", "mul", "sub", "max", "min"], "units": 1},
    "controller": {"kind": "evolution", "params": {"population": 32, "tournament": 8}},
    "task": {"name": "mnist1d-mlp", "seeds": 1},
    "budget": {"candidates": 200, "seconds": 3600},
    "confirm": {"top_k": 5, "seeds": 3},
    "seed": 0,
}


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SpaceSpec(_Doc):
    """The search space: operators (``GET /operators``) and the shape of candidates."""

    unary: list[str] | None = Field(None, description="unary operator names")
    binary: list[str] | None = Field(None, description="binary operator names")
    units: int | None = Field(None, description="core units (Swish paper template)")
    min_units: int | None = None
    form: str | None = Field(None, description="'core' (unit template) or 'tree'")
    constants: list[float] | None = None
    max_size: int | None = None
    max_depth: int | None = None


class ControllerSpec(_Doc):
    kind: str = Field("evolution", description="see GET /controllers")
    params: dict[str, Any] = Field(default_factory=dict, description="controller parameters")


class TaskSpec(_Doc):
    name: str = Field("mnist1d-mlp", description="see GET /tasks")
    seeds: int = Field(1, ge=1, description="child networks per candidate")
    steps: int | None = Field(None, ge=1, description="training steps; null: the task's default")
    options: dict[str, Any] = Field(default_factory=dict, description="task options, e.g. path")
    precision: str = Field("fp32", description="'fp32', or 'bf16' (bfloat16 autocast; for GPU workers)")


class BudgetSpec(_Doc):
    candidates: int = Field(100, ge=1, description="new functions to evaluate")
    seconds: float | None = Field(None, gt=0, description="search wall-time limit")
    in_flight: int | None = Field(None, ge=1, description="evaluations at once")


class FidelitySpec(_Doc):
    rungs: list[int] = Field(default_factory=list, description=(
        "training steps per rung (ASHA), increasing; each rung trains a stretch of the last rung's "
        "schedule and a promoted candidate continues from its checkpoint"))
    eta: int = Field(3, ge=2, description="keep the top 1/eta at each rung")


class ConfirmSpec(_Doc):
    top_k: int = Field(5, ge=0, description="candidates re-evaluated after the search")
    seeds: int = Field(3, ge=1)
    steps: int | None = Field(None, ge=1)
    tasks: list[str] = Field(default_factory=list, description="extra tasks (transfer check)")


class RejectionSpec(_Doc):
    """Early rejection: which checks run (all on by default) and their thresholds."""

    probe: bool = Field(True, description="before training: non-finite, constant or affine functions")
    signal_propagation: bool = Field(True, description=(
        "before training: reject functions whose signal or gradient explodes or dies in a deep "
        "(32-layer, He-initialised) random network; the gains are stored either way"))
    loss_window: int | None = Field(200, ge=4, description="steps after which the loss must have fallen; null: off")
    min_loss_drop: float = Field(0.02, ge=0, lt=1, description="required relative fall of the training loss")
    quality_fraction: float | None = Field(0.25, gt=0, le=1, description=(
        "fraction of the steps at which the task's accuracy floor must be reached; null: off"))
    grad_norm_limit: float = Field(1e4, gt=0, description="a gradient norm above this rejects")


class JobSpecDoc(_Doc):
    """A search to run. Omitted fields take their defaults; unknown fields are rejected."""

    model_config = ConfigDict(extra="forbid", title="JobSpec", json_schema_extra={"examples": [EXAMPLE_SPEC]})

    name: str = Field("search", max_length=200)
    space: SpaceSpec = Field(default_factory=SpaceSpec.model_construct)
    controller: ControllerSpec = Field(default_factory=ControllerSpec.model_construct)
    task: TaskSpec = Field(default_factory=TaskSpec.model_construct)
    budget: BudgetSpec = Field(default_factory=BudgetSpec.model_construct)
    fidelity: FidelitySpec = Field(default_factory=FidelitySpec.model_construct)
    confirm: ConfirmSpec = Field(default_factory=ConfirmSpec.model_construct)
    seed: int = Field(0, ge=0, le=2**31 - 1)
    rejection: RejectionSpec = Field(default_factory=RejectionSpec.model_construct)


class JobSpecSchema:
    """``Annotated[dict[str, Any], JobSpecSchema()]``: a JSON object documented as a JobSpec."""

    def __get_pydantic_json_schema__(self, core_schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        return handler(JobSpecDoc.__pydantic_core_schema__)
