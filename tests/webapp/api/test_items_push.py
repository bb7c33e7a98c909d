"""Pushing items: each line is checked against its schema (ExampleLine), the rules the schema
cannot say are 422 with the line, field and reason, and what depends on the project's tasks is
409; nothing is imported when any line is refused."""

from __future__ import annotations

import json

import pytest

from judging.demo_tasks import ARITHMETIC
from judging.task_format import RESPONSE_A, RESPONSE_B
from webapp.annotation.models import Item, TaskDefinition

pytestmark = pytest.mark.django_db

CONTEXT = {"question": "1+1?", RESPONSE_A: "2", RESPONSE_B: "3"}
RATING = {
    "name": "rating",
    "type": "pointwise",
    "title": "Rate it",
    "description": "0 bad, 10 good.",
    "context_fields": ["text"],
    "output_fields": ["score"],
    "scale": [0, 10],
}


@pytest.fixture
def push(world):
    headers = {"Authorization": f"Bearer {world.secret('admin')}"}
    client = world.client("anonymous")
    url = f"/api/v1/projects/{world.project.slug}/items"

    def send(lines, status, ndjson=False, **body):
        before = Item.objects.count()
        if ndjson:
            data = "".join(json.dumps(line) + "\n" for line in lines)
            response = client.post(url, data, "application/x-ndjson", headers=headers)
        else:
            data = json.dumps({"examples": lines, **body})
            response = client.post(url, data, "application/json", headers=headers)
        assert response.status_code == status, response.content[:500]
        if status != 200:
            assert Item.objects.count() == before
        return response.json()

    return send


def test_types_and_lengths_the_schema_states_are_refused_by_it(push):
    line = {"task": "demo_arithmetic", "context": CONTEXT}
    error = push([{**line, "label": 1}], 422)["error"]
    assert error["details"] == ["examples.0.label: Input should be a valid string"]
    assert push([line], 422, heldout_percent="20")["error"]["details"]
    # The database's lengths: a longer name or title was a server error, now the schema's 422.
    long_name = {**RATING, "name": "n" * 201}
    assert push([{"task": long_name, "context": {"text": "x"}}], 422)["error"]["details"]
    long_title = {**RATING, "title": "t" * 501}
    assert push([{"task": long_title, "context": {"text": "x"}}], 422)["error"]["details"]
    assert push([{**line, "provenance": 5}], 422)["error"]["details"]  # was a server error
    open_ended = {**RATING, "type": "open_ended", "labels": ["a"]}
    del open_ended["scale"]
    assert push([{"task": open_ended, "context": {"text": "x"}}], 422)["error"]["details"]
    # NDJSON lines are the same ExampleLine, refused naming their line.
    error = push([line, {**line, "label": 1}], 422, ndjson=True)["error"]
    assert error["message"].startswith("The request is not valid. line 2: label")
    # Text PostgreSQL cannot store is refused where it is (it failed in the database before).
    nul = {**line, "context": {**CONTEXT, "question": "1\x00"}}
    error = push([nul], 422)["error"]
    assert error["details"] == ["examples[0].context.question"]
    # Unknown keys are kept and ignored, as the importer ignores them.
    assert push([{**line, "id": "extra", "label": "A", "note": {"any": 1}}], 200)["created"] == 1


def test_rules_beyond_the_schema_are_422_naming_line_field_and_reason(push):
    rating = {"task": "rating", "context": {"text": "x"}, "label": "3"}
    error = push([rating, {**rating, "task": RATING}], 422)["error"]
    assert "line 1: field 'task': task 'rating' is defined on line 2" in error["message"]
    error = push([{"task": RATING, "context": {}}], 422)["error"]
    assert "line 1" in error["message"] and "context lacks field 'text'" in error["message"]
    error = push([{**rating, "task": RATING}, {**rating, "label": "11"}], 422)["error"]
    assert "line 2" in error["message"] and "outside scale [0.0, 10.0]" in error["message"]
    upside_down = {**RATING, "scale": [10, 0]}
    error = push([{**rating, "task": upside_down}], 422)["error"]
    assert "line 1: task 'rating': field 'scale' must be [low, high]" in error["message"]
    error = push([{**rating, "task": RATING}, {**rating, "label": None}], 422, gold=True)["error"]
    assert "line 2: a gold import needs a label" in error["message"]
    assert not TaskDefinition.objects.filter(name="rating").exists()
    second = {**rating, "label": "7.5", "context": {"text": "y"}}
    assert push([{**rating, "task": RATING}, second], 200)["created"] == 2


def test_what_depends_on_the_projects_tasks_is_409(push, world):
    error = push([{"task": "no-such-task", "context": CONTEXT}], 409)["error"]
    assert error["code"] == "conflict"
    assert "line 1: field 'task': no task 'no-such-task' in project 'demo'" in error["message"]
    # A definition that differs from the project's task of that name (the importer never
    # redefines a task: the rubric page makes a new version).
    changed = {**ARITHMETIC.to_dict(), "labels": ["A", "B"]}
    error = push([{"task": changed, "context": CONTEXT}], 409)["error"]
    assert "line 1: field 'task': task 'demo_arithmetic' differs" in error["message"]
    # An example that does not fit the project's task it names, on its first line or a later.
    fits = {"task": "demo_arithmetic", "context": CONTEXT, "label": "A"}
    error = push([fits, {**fits, "label": "C"}], 409)["error"]
    assert "line 2" in error["message"] and "label 'C' not in ['A', 'B', 'tie']" in error["message"]
    error = push([{**fits, "context": {"question": "1+1?"}}], 409)["error"]
    assert (
        "line 1" in error["message"] and "the project's task 'demo_arithmetic'" in error["message"]
    )
    # The same definition as the project's, or its name, is fine.
    same = {**fits, "id": "same", "task": ARITHMETIC.to_dict()}
    assert (
        push([same, {**fits, "id": "named", "context": {**CONTEXT, "question": "2+2?"}}], 200)[
            "created"
        ]
        == 2
    )


def test_the_schema_describes_the_line(world):
    from webapp.api.api import api

    schema = api.get_openapi_schema()
    operation = schema["paths"]["/api/v1/projects/{slug}/items"]["post"]
    body = operation["requestBody"]["content"]
    assert body["application/json"]["schema"] == {"$ref": "#/components/schemas/ItemsIn"}
    assert "application/x-ndjson" in body
    assert {"409", "413", "422"} <= {str(status) for status in operation["responses"]}
    components = schema["components"]["schemas"]
    assert "a scale's low is below its high" in components["ItemsIn"]["description"]
    assert components["ItemsIn"]["properties"]["examples"]["items"] == {
        "$ref": "#/components/schemas/ExampleLine"
    }
    task = components["ExampleLine"]["properties"]["task"]["anyOf"]
    assert task[0] == {"type": "string", "minLength": 1, "maxLength": 200}
    assert {option["$ref"].rsplit("/", 1)[1] for option in task[1]["oneOf"]} == {
        "PairwiseTask",
        "PointwiseTask",
        "ClassificationTask",
        "OpenEndedTask",
    }
    pairwise = components["PairwiseTask"]["properties"]
    assert pairwise["context_fields"]["allOf"] == [
        {"contains": {"const": RESPONSE_A}},
        {"contains": {"const": RESPONSE_B}},
    ]
    assert components["ClassificationTask"]["properties"]["labels"]["minItems"] == 1
    assert components["OpenEndedTask"]["properties"]["labels"]["anyOf"][0]["maxItems"] == 0
