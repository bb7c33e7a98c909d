"""The statuses every operation can answer, added to the OpenAPI document in one place, so a
generated client knows each of them:

- 429 on every operation (each token's requests are throttled, EMBER_API_RATE);
- 401 (no valid token) and 403 (the token's scope or its user's role) on every operation;
- 404 on every operation with a path parameter (no such project, job, version);
- 422 on every operation that takes parameters or a body (they are validated; text may not hold
  NUL characters or unpaired surrogates);
- 400 on every operation with a body (a body that is not JSON) and on every paginated
  operation (a cursor the API did not hand out), whose `cursor` parameter also carries the
  pattern of the cursors the API hands out;
- 413 on every operation with a body (over Django's upload limit).

Statuses particular to one operation (201, 202, 409, 503, ...) stay on the operation."""

from __future__ import annotations

from typing import Any

from webapp.api.pagination import CURSOR_PATTERN

DESCRIPTIONS = {
    400: "Bad request: a body that is not JSON, or a cursor this API did not hand out.",
    401: "No valid API token: send 'Authorization: Bearer <token>'.",
    403: "The token's scope or its user's role in the project does not allow this.",
    404: "Not found (no such project, job, version or item).",
    413: "The request body is too large.",
    422: "The parameters or the body are not valid; `details` says which and why.",
    429: "Too many requests from this token; slow down.",
}


def _error(status: int) -> dict[str, Any]:
    return {
        "description": DESCRIPTIONS[status],
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}},
    }


def document_statuses(schema: dict[str, Any]) -> dict[str, Any]:
    for path, operations in schema.get("paths", {}).items():
        for operation in operations.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            parameters = operation.get("parameters", [])
            statuses = {401, 403, 429}
            if "{" in path:
                statuses.add(404)
            if parameters or "requestBody" in operation:
                statuses.add(422)
            if "requestBody" in operation:
                statuses |= {400, 413}
            for parameter in parameters:
                if parameter.get("in") == "query" and parameter.get("name") == "cursor":
                    statuses.add(400)
                    _cursor_pattern(parameter)
            responses = operation["responses"]
            documented = {int(status) for status in responses}  # ninja's keys are ints
            for status in sorted(statuses - documented):
                responses[status] = _error(status)
    return schema


def _cursor_pattern(parameter: dict[str, Any]) -> None:
    target = parameter.setdefault("schema", {})
    options = target.get("anyOf")
    if options:  # str | None
        for option in options:
            if option.get("type") == "string":
                option["pattern"] = CURSOR_PATTERN
    else:
        target["pattern"] = CURSOR_PATTERN
