"""The interchange line (docs/format.md, judging/task_format.py) as the API's request schema.

`POST /projects/{slug}/items` validates each pushed line with `ExampleLine` (strict types, as
docs/format.md states them), so its OpenAPI schema says what the importer reads and a
generated client is right: a task given by name or as a definition that is one of four task
types (`oneOf` on `type`), a pairwise task's response fields and labels (`contains`), a
classification's labels, a pointwise task's labels or scale, an open-ended task's lack of
labels; context values; the known lines' field types; the database's lengths. Unknown keys are
kept and ignored, as the importer ignores them.

What JSON Schema cannot say is in `RULES`, the body's description, and checked by the API
(webapp/api/item_lines.py)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from django.conf import settings
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from judging.task_format import RESPONSE_A, RESPONSE_B
from webapp.annotation.transfer import DEFAULT_HELDOUT_PERCENT

# TaskDefinition's columns (webapp/annotation/models.py).
MAX_TASK_NAME = 200
MAX_TASK_TITLE = 500
# A scale's bounds stay finite (JSON's 1e400 would be read as infinity) and far apart from
# their neighbours, so a label compares with them as written.
MAX_SCALE = 1e15

RULES = (
    "Rules beyond this schema, refused with 422 and the line, field and reason: a line naming "
    "a task by name comes after the line defining it, unless the task is the project's; an "
    "example's context holds every context field of its task; its label, when given, is one "
    "of the task's labels, and on a pointwise task with a scale a number within "
    "[low, high]; a scale's low is below its high. Refused with 409 Conflict, since they "
    "depend on the project's tasks: a task name neither the project's nor defined earlier in "
    "the body; a definition that differs from the project's task of the same name (edit the "
    "rubric instead); an example that does not fit the project's task it names. Text may not "
    "hold NUL characters or unpaired surrogates (422). With gold true, every example has a "
    "non-empty label (in the schema: anyOf)."
)


def _open(title: str, **schema_extra) -> ConfigDict:
    """Strict (a number where text is expected is refused: the importer would str() it);
    other keys are allowed, and ignored as the importer ignores them."""
    return ConfigDict(strict=True, extra="allow", title=title, json_schema_extra=schema_extra)


def _contains(*values: str) -> dict:
    return {"allOf": [{"contains": {"const": value}} for value in values]}


def _whole(value: Any) -> Any:
    # JSON Schema's integer includes 37.0; strict pydantic would refuse it (text and true stay
    # refused).
    return int(value) if isinstance(value, float) and value.is_integer() else value


WholeNumber = Annotated[int, BeforeValidator(_whole)]
TaskName = Annotated[str, Field(min_length=1, max_length=MAX_TASK_NAME)]
Names = list[str]


class _Task(BaseModel):
    name: TaskName
    title: str = Field(max_length=MAX_TASK_TITLE)
    description: str = Field(description="The rater guidelines.")
    context_fields: Names = Field(description="The example's context fields, in order.")
    output_fields: Names = Field(min_length=1, description="The first carries the verdict.")


class PairwiseTask(_Task):
    model_config = _open("PairwiseTask")
    type: Literal["pairwise"]
    context_fields: Names = Field(
        json_schema_extra=_contains(RESPONSE_A, RESPONSE_B),
        description=f"Include '{RESPONSE_A}' and '{RESPONSE_B}', the two judged responses.",
    )
    labels: Names = Field(json_schema_extra=_contains("A", "B"), description="A, B (and tie).")
    scale: None = None


class ClassificationTask(_Task):
    model_config = _open("ClassificationTask")
    type: Literal["classification"]
    labels: Names = Field(min_length=1)
    scale: None = None


class PointwiseTask(_Task):
    """Labels (the scale's points), or a real-valued scale [low, high]."""

    model_config = _open(
        "PointwiseTask",
        anyOf=[
            {"required": ["labels"], "properties": {"labels": {"type": "array", "minItems": 1}}},
            {"required": ["scale"], "properties": {"scale": {"type": "array"}}},
        ],
    )
    type: Literal["pointwise"]
    labels: Names | None = None
    scale: (
        Annotated[
            list[Annotated[float, Field(ge=-MAX_SCALE, le=MAX_SCALE)]],
            Field(min_length=2, max_length=2, description="[low, high], low < high."),
        ]
        | None
    ) = None


class OpenEndedTask(_Task):
    model_config = _open("OpenEndedTask")
    type: Literal["open_ended"]
    labels: Annotated[Names, Field(max_length=0)] | None = Field(
        None, description="None: the label is free text."
    )
    scale: None = None


TaskDefinition = Annotated[
    PairwiseTask | PointwiseTask | ClassificationTask | OpenEndedTask,
    Field(discriminator="type"),
]


class Turn(BaseModel):
    model_config = _open("Turn")
    role: str
    content: str


ContextValue = str | int | float | list[Turn]


class ExampleLine(BaseModel):
    """One interchange line (docs/format.md)."""

    model_config = _open("ExampleLine")

    task: TaskName | TaskDefinition = Field(
        description="A task definition, or the name of one defined on an earlier line or "
        "already in the project."
    )
    context: dict[str, ContextValue] = Field(
        description="Context field -> text (a number is read as text), or a conversation: "
        "a list of {role, content} turns. Holds every context field of the task."
    )
    id: str | None = Field(None, description="Stable id of the example.")
    reference: str | None = None
    label: str | None = Field(
        None, description="A, B or tie; a class; a scale value; free text (open-ended)."
    )
    label_distribution: dict[str, WholeNumber] | None = Field(
        None, description="Every rater's label where there were several: label -> count."
    )
    outputs: dict[str, str] | None = Field(
        None, description="The later output fields' values, e.g. an explanation."
    )
    provenance: dict[str, Any] | None = None
    format_version: str | None = Field(None, description="flame-v1")


# A gold push needs a label on every example (the known answer): said in the schema.
GOLD_NEEDS_LABELS = {
    "anyOf": [
        {"properties": {"gold": {"const": False}}},
        {
            "properties": {
                "examples": {
                    "items": {
                        "required": ["label"],
                        "properties": {"label": {"type": "string", "minLength": 1}},
                    }
                }
            }
        },
    ]
}


class ItemsIn(BaseModel):
    model_config = ConfigDict(
        strict=True, title="ItemsIn", json_schema_extra={**GOLD_NEEDS_LABELS, "description": RULES}
    )

    examples: list[ExampleLine] = Field(
        min_length=1,
        max_length=settings.EMBER_API_MAX_ITEMS_PER_REQUEST,
        description="Interchange JSONL lines as objects (more than the limit: 413).",
    )
    heldout_percent: WholeNumber = Field(
        DEFAULT_HELDOUT_PERCENT,
        ge=0,
        le=100,
        description=(
            "Share held out of training, split by content; the promotion gate compares "
            "autorater versions on held-out labels, so 0 leaves it nothing to compare on."
        ),
    )
    gold: bool = Field(
        False,
        description=(
            "These examples are gold: their labels are the known answers (every example needs "
            "a label); rater accuracy is measured on them."
        ),
    )


REF_TEMPLATE = "#/components/schemas/{model}"


def openapi_components() -> dict[str, Any]:
    """ItemsIn and the models it uses, as OpenAPI components (referenced by name)."""
    schema = ItemsIn.model_json_schema(ref_template=REF_TEMPLATE)
    components = schema.pop("$defs", {})
    components["ItemsIn"] = schema
    return components
