"""The API does what its schema says: schemathesis with every check (status codes, content
types, response bodies against their schemas, bodies the schema accepts are accepted and ones it
refuses are refused, ...) over every operation, against a live server, as an admin token.

Bounded examples keep it to a few minutes; `derandomize` makes a failure repeatable."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode

MAX_EXAMPLES = 12


def _schema():
    from webapp.api.api import api

    loaded = schemathesis.openapi.from_dict(api.get_openapi_schema())
    # The schema's description says text may not hold NUL characters or unpaired surrogates
    # (PostgreSQL cannot store them; the API answers 422): generate none where it should pass.
    # OpenAPI cannot say "no other query parameters", so none are sent as a negative case.
    loaded.config.generation.update(allow_x00=False, codec="utf-8", allow_extra_parameters=False)
    # A body over the size limit is refused before it is read, with the documented 413: for a
    # body the schema refuses (e.g. a text over its maxLength) that is a rejection too.
    rejection = loaded.config.checks.negative_data_rejection
    rejection.expected_statuses = [*rejection.expected_statuses, "413"]
    return loaded


schema = _schema()


# --- Pushed items: the rules beyond JSON Schema ---------------------------------------------
# ItemsIn's description (webapp/api/interchange.py RULES) states the rules of a pushed body
# that its schema cannot: the API refuses a body breaking one with 422. A positive case is
# one the schema accepts, so this hook makes each generated positive body keep them as well;
# negative cases are left alone, and every check runs on every case. (A task name that is not
# the project's, or a definition that differs from the project's task, is the 409 the
# positive check accepts: the project's tasks are beyond any schema.)


def _fits_scale(label: str, scale: list[float]) -> bool:
    try:
        return scale[0] <= float(label) <= scale[1]
    except ValueError:
        return False


def _label_fitted(line: dict, task: dict) -> None:
    """Rule: a label, when given, is one of the task's labels, and on a pointwise task with a
    scale a number within it."""
    labels, scale, label = task.get("labels") or [], task.get("scale"), line.get("label")
    if label is None:
        return
    fits = (not labels or label in labels) and (scale is None or _fits_scale(label, scale))
    if fits:
        return
    candidates = [one for one in labels if one and (scale is None or _fits_scale(one, scale))]
    if candidates:
        line["label"] = candidates[0]
    elif scale is not None:
        task["labels"] = []  # a pointwise task with a scale needs no labels
        line["label"] = str(scale[0])
    else:  # a classification or pointwise task whose labels are all empty text: widen them
        task["labels"] = [*labels, "fits"]
        line["label"] = "fits"


def _keeping_the_rules(body: dict) -> None:
    tasks: dict[str, dict] = {}  # as the importer reads them: the latest definition of a name
    first = {}
    for line in body["examples"]:
        if isinstance(line["task"], dict):
            first.setdefault(line["task"]["name"], line["task"])
    for line in body["examples"]:
        if isinstance(line["task"], str) and line["task"] not in tasks and line["task"] in first:
            # Rule: a line naming a task comes after the line defining it.
            line["task"] = first[line["task"]]
        task = line["task"]
        if isinstance(task, dict):
            scale = task.get("scale")
            if scale is not None and not scale[0] < scale[1]:
                # Rule: a scale's low is below its high (within the schema's bounds).
                low, high = sorted(scale)
                task["scale"] = [low, high] if low < high else [0, 1]
            tasks[task["name"]] = task
        task = tasks.get(task) if isinstance(task, str) else task
        if task is None:
            continue  # a task of the project, or none: 409 at worst
        for field in task["context_fields"]:
            # Rule: an example's context holds every context field of its task.
            line["context"].setdefault(field, "")
        _label_fitted(line, task)


@schema.hook.apply_to(method="POST", path_regex=r"/projects/\{slug\}/items$")
def map_case(context, case):
    positive = case.meta is not None and case.meta.generation.mode == GenerationMode.POSITIVE
    if positive and isinstance(case.body, dict) and isinstance(case.body.get("examples"), list):
        _keeping_the_rules(case.body)
    return case


@pytest.fixture
def contract_world(transactional_db, world):
    return world


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_the_api_keeps_its_contract(case, contract_world, live_server):
    world = contract_world
    # Half of the generated project slugs are the real one, so handlers go past the lookup.
    if "slug" in (case.path_parameters or {}) and len(case.path_parameters["slug"]) % 2 == 0:
        case.path_parameters["slug"] = world.project.slug
    case.call_and_validate(
        base_url=live_server.url,
        headers={"Authorization": f"Bearer {world.secret('admin')}"},
    )
