"""Request and response bodies of the API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from ninja import Field, Schema
from pydantic import ConfigDict

from webapp.retraining.models import TrainingRun


class ErrorDetail(Schema):
    status: int
    code: str
    message: str
    details: list[Any] | None = None


class ErrorOut(Schema):
    error: ErrorDetail


class MeOut(Schema):
    username: str
    token: str
    scopes: list[str]
    # The highest role the user holds in any project; null for none.
    role: Literal["admin", "analyst", "rater"] | None


class ProjectIn(Schema):
    model_config = ConfigDict(extra="forbid")  # an unknown key is refused (422), not ignored

    name: str = Field(..., min_length=1, max_length=200)
    slug: str | None = Field(None, min_length=1, max_length=100, pattern=r"^[-a-zA-Z0-9_]+$")
    description: str = Field("", max_length=10_000)
    raters_per_item: int = Field(1, ge=1, le=50)


class ProjectOut(Schema):
    id: int
    slug: str
    name: str
    description: str
    raters_per_item: int
    created_at: datetime


class TaskOut(Schema):
    name: str
    type: str
    title: str
    description: str
    context_fields: list[str]
    output_fields: list[str]
    labels: list[str]
    scale: list[float] | None = None


class ItemOut(Schema):
    id: int
    external_id: str
    task: str
    context: dict[str, Any]
    reference: str
    gold_label: str
    label_distribution: dict[str, Any] | None = None
    split: str
    is_gold: bool
    created_at: datetime

    @staticmethod
    def resolve_task(obj) -> str:
        return obj.task.name


class ImportOut(Schema):
    created: int
    skipped: int
    per_task: dict[str, int]
    warning: str | None = Field(
        None, description="Present when the import holds out 0 %: the gate cannot compare."
    )


class HumanJudgmentOut(Schema):
    id: int
    item_id: int
    item_external_id: str
    task: str
    annotator: str
    label: str
    revision: int
    is_current: bool
    confidence: int | None = None
    reason: str
    disagreement_tag: str
    seconds_spent: float | None = None
    created_at: datetime

    @staticmethod
    def resolve_item_external_id(obj) -> str:
        return obj.item.external_id

    @staticmethod
    def resolve_task(obj) -> str:
        return obj.item.task.name

    @staticmethod
    def resolve_annotator(obj) -> str:
        return obj.annotator.username


class AutoraterJudgmentOut(Schema):
    id: int
    item_id: int
    item_external_id: str
    task: str
    version: int
    label: str
    confidence: float | None = None
    probabilities: dict[str, Any]
    order_probabilities: dict[str, Any]
    consistent: bool | None = None
    valid: bool
    explanation: str = ""
    created_at: datetime

    @staticmethod
    def resolve_item_external_id(obj) -> str:
        return obj.item.external_id

    @staticmethod
    def resolve_task(obj) -> str:
        return obj.item.task.name

    @staticmethod
    def resolve_version(obj) -> int:
        return obj.version.number


class JobOut(Schema):
    id: int
    kind: Literal["training"] = "training"
    project: str
    status: str
    trigger: str
    phase: TrainingRun.Phase | Literal[""] = Field(description="Where a running run is.")
    step: int
    total_steps: int
    last_loss: float | None = None
    error: str
    version: int | None = None
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None

    @staticmethod
    def resolve_project(obj) -> str:
        return obj.project.slug

    @staticmethod
    def resolve_version(obj) -> int | None:
        version = getattr(obj, "version", None)
        return version.number if version is not None else None


class VersionOut(Schema):
    number: int
    status: str
    metrics: dict[str, Any]
    incumbent_metrics: dict[str, Any]
    snapshot_hash: str
    training_run_id: int | None = None
    parent: int | None = None
    created_at: datetime
    promoted_at: datetime | None = None

    @staticmethod
    def resolve_parent(obj) -> int | None:
        return obj.parent.number if obj.parent_id else None


class JudgeExampleIn(Schema):
    """An interchange line to judge without storing it."""

    task: str = Field(..., min_length=1, max_length=200, description="A task name of the project.")
    id: str = Field("", max_length=1000)
    context: dict[str, str | list[dict[str, str]]] = Field(
        ..., description="Field -> text, or a conversation (a list of {role, content} turns)."
    )
    reference: str | None = Field(None, max_length=1_000_000)


# Exactly one of item_ids and examples, and not empty: said in the schema (oneOf), so a client
# generated from it cannot send both, or neither (the API refuses either with 422).
JUDGE_ONE_OF = {
    "oneOf": [
        {
            "required": ["item_ids"],
            "properties": {"item_ids": {"minItems": 1}, "examples": {"maxItems": 0}},
        },
        {
            "required": ["examples"],
            "properties": {"examples": {"minItems": 1}, "item_ids": {"maxItems": 0}},
        },
    ]
}


class JudgeIn(Schema):
    model_config = ConfigDict(extra="forbid", json_schema_extra=JUDGE_ONE_OF)

    item_ids: list[Annotated[int, Field(ge=1, le=2**63 - 1)]] = Field(
        default_factory=list,
        max_length=100_000,
        description="Items of the project. A small batch is judged now; a larger one is queued.",
    )
    examples: list[JudgeExampleIn] = Field(
        default_factory=list,
        description="Examples not stored in Ember (interchange lines whose task is a task name "
        "of the project); judged now, at most EMBER_API_JUDGE_SYNC_MAX of them.",
    )


class VerdictOut(Schema):
    item_id: int | None = None
    example_id: str | None = None
    task: str
    label: str | None = None
    confidence: float | None = None
    probabilities: dict[str, float]
    order_probabilities: dict[str, Any]
    consistent: bool | None = None
    valid: bool
    expected_score: float | None = None
    error: str | None = None
    # Generated after the verdict when the autorater was trained to explain (model text).
    explanation: str | None = None


class JudgeOut(Schema):
    version: int
    verdicts: list[VerdictOut]


class JudgeJobOut(Schema):
    id: int
    project: str
    version: int | None = None
    status: Literal["queued", "done", "failed"]
    total: int
    judged: int
    created_at: datetime


class AuditOut(Schema):
    id: int
    at: datetime
    username: str
    token: str | None = None
    action: str
    object_type: str
    object_id: str
    summary: dict[str, Any]

    @staticmethod
    def resolve_token(obj) -> str | None:
        return obj.token.prefix if obj.token_id else None


# Ids reach Postgres bigint / integer columns: bound them so no query overflows.
MAX_ID = 2**63 - 1
MAX_NUMBER = 2**31 - 1
