"""Authorization matrix: every API endpoint and every HTML page, for each role, is either
allowed (its normal answer) or refused (401/403/404, or a redirect to the login page).

Roles are per project (webapp.annotation.models.Membership): rater, analyst and admin of the
project (admin is also a superuser); outsider (a rater of another project) and other_admin (an
admin of another project, no role in this one) get 403 on every page and endpoint of this
project; anonymous is asked to log in (401 from the API).
"""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import URLPattern, URLResolver, get_resolver

from judging.task_format import RESPONSE_A, RESPONSE_B
from tests.webapp.api.conftest import ROLES

pytestmark = pytest.mark.django_db

EVERYONE = {"rater", "analyst", "admin", "outsider", "other_admin"}
MEMBERS = {"rater", "analyst", "admin"}  # any role in the project
RATERS = MEMBERS  # every role includes the rater's
DATA = {"analyst", "admin"}
ADMIN = {"admin"}  # the project's admins
SITE_ADMIN = {"admin"}  # create projects, the audit log, Django's admin
LABELLERS = {"rater", "admin"}  # pages of the item they labelled (world.items[0])


def _jsonl_line(world) -> dict:
    context = {"question": "1+1?", RESPONSE_A: "2", RESPONSE_B: "3"}
    return {"task": "demo_arithmetic", "id": "pushed-1", "label": "A", "context": context}


# (method, path, body, allowed roles, status when allowed)
def api_cases(world) -> list[tuple]:
    slug, item = world.project.slug, world.items[0]
    return [
        ("get", "/api/v1/me", None, EVERYONE, 200),
        ("get", "/api/v1/audit", None, SITE_ADMIN, 200),
        ("get", "/api/v1/projects", None, EVERYONE, 200),
        ("post", "/api/v1/projects", {"name": "Made by API"}, SITE_ADMIN, 201),
        ("get", f"/api/v1/projects/{slug}", None, MEMBERS, 200),
        ("get", f"/api/v1/projects/{slug}/tasks", None, MEMBERS, 200),
        ("get", f"/api/v1/projects/{slug}/items", None, DATA, 200),
        ("post", f"/api/v1/projects/{slug}/items", {"examples": [_jsonl_line(world)]}, ADMIN, 200),
        ("get", f"/api/v1/projects/{slug}/judgments/human", None, DATA, 200),
        ("get", f"/api/v1/projects/{slug}/judgments/autorater", None, DATA, 200),
        ("get", f"/api/v1/projects/{slug}/jobs", None, DATA, 200),
        ("post", f"/api/v1/projects/{slug}/jobs", None, ADMIN, 202),
        ("get", f"/api/v1/jobs/{world.run.pk}", None, DATA, 200),
        ("post", f"/api/v1/jobs/{world.run.pk}/cancel", None, ADMIN, 200),
        ("get", f"/api/v1/judge-jobs/{world.judge_job.pk}", None, DATA, 200),
        ("get", f"/api/v1/projects/{slug}/versions", None, DATA, 200),
        ("post", f"/api/v1/projects/{slug}/versions/1/promote", None, ADMIN, 200),
        ("post", f"/api/v1/projects/{slug}/judge", {"item_ids": [item.pk]}, DATA, 200),
        ("get", f"/api/v1/projects/{slug}/export?format=jsonl", None, DATA, 200),
        ("get", "/api/v1/openapi.json", None, None, 200),  # public: the schema
        ("get", "/api/v1/docs", None, None, 200),
    ]


def test_every_api_operation_is_in_the_matrix(world):
    from webapp.api.api import api

    schema = api.get_openapi_schema()
    documented = {
        (method, path) for path, operations in schema["paths"].items() for method in operations
    }
    covered = {(method, path.split("?")[0]) for method, path, *_ in api_cases(world)}
    templated = set()
    for method, path in documented:
        matches = [
            c
            for c in covered
            if c[0] == method
            and len(c[1].split("/")) == len(path.split("/"))
            and all(
                a == b or b.startswith("{")
                for a, b in zip(c[1].split("/"), path.split("/"), strict=True)
            )
        ]
        if matches:
            templated.add((method, path))
    assert templated == documented, f"not in the matrix: {sorted(documented - templated)}"


@pytest.mark.parametrize("role", ROLES)
def test_api_matrix(world, role):
    secret = world.secret(role)
    mismatches = []
    for method, path, body, allowed, ok_status in api_cases(world):
        headers = {"Authorization": f"Bearer {secret}"} if secret else {}
        kwargs = {"content_type": "application/json", "data": json.dumps(body)} if body else {}
        response = getattr(world.client("anonymous"), method)(path, headers=headers, **kwargs)
        if allowed is None or role in allowed:
            expected = ok_status
        else:
            expected = 401 if role == "anonymous" else 403
        if response.status_code != expected:
            mismatches.append(
                (method, path, expected, response.status_code, response.content[:200])
            )
        elif expected >= 400:
            error = response.json()["error"]
            assert error["status"] == expected and error["code"] and error["message"]
    assert not mismatches, "\n".join(map(str, mismatches))


def test_scopes_narrow_what_a_token_may_do(world):
    slug = world.project.slug
    read = {"Authorization": f"Bearer {world.secret('admin', ['read'])}"}
    write = {"Authorization": f"Bearer {world.secret('admin', ['write'])}"}
    client = world.client("anonymous")
    assert client.get(f"/api/v1/projects/{slug}/items", headers=read).status_code == 200
    refused = client.post(
        f"/api/v1/projects/{slug}/jobs", headers=read, content_type="application/json"
    )
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "insufficient_scope"
    assert client.post(f"/api/v1/projects/{slug}/jobs", headers=write).status_code == 202
    promote = client.post(f"/api/v1/projects/{slug}/versions/1/promote", headers=write)
    assert promote.status_code == 403


# --- HTML pages ----------------------------------------------------------------------------


def page_cases(world) -> list[tuple]:
    """(url name, method, path, data, allowed roles, status when allowed)."""
    slug = world.project.slug
    item, fresh = world.items[0], world.items[1]
    upload = SimpleUploadedFile(
        "in.jsonl", (json.dumps(_jsonl_line(world)) + "\n").encode(), "application/jsonl"
    )
    return [
        ("home", "get", "/", None, EVERYONE, 200),
        ("login", "get", "/login/", None, None, 200),
        ("queue", "get", f"/p/{slug}/queue/", None, RATERS, 200),
        (
            "submit-label",
            "post",
            f"/p/{slug}/items/{fresh.pk}/label/",
            {"label": "A", "submission_key": "k1"},
            RATERS,
            200,
        ),
        ("item-edit", "get", f"/p/{slug}/items/{item.pk}/", None, LABELLERS, 200),
        ("skip-item", "post", f"/p/{slug}/items/{world.items[2].pk}/skip/", {}, RATERS, 200),
        (
            "tag-disagreement",
            "post",
            f"/p/{slug}/items/{item.pk}/tag/",
            {"tag": "ambiguous"},
            LABELLERS,
            200,
        ),
        ("adjudication", "get", f"/p/{slug}/adjudicate/", None, DATA, 200),
        ("adjudicate-item", "get", f"/p/{slug}/adjudicate/{item.pk}/", None, DATA, 200),
        ("adjudicate-item", "post", f"/p/{slug}/adjudicate/{item.pk}/", {"label": "A"}, DATA, 200),
        ("item-gold", "post", f"/p/{slug}/adjudicate/{item.pk}/gold/", {"label": "A"}, ADMIN, 302),
        ("autorater-verdict", "get", f"/p/{slug}/items/{item.pk}/autorater/", None, LABELLERS, 200),
        ("data", "get", f"/p/{slug}/data/", None, ADMIN, 200),
        ("data-import", "post", f"/p/{slug}/data/import/", {"file": upload}, ADMIN, 200),
        ("data-export", "get", f"/p/{slug}/data/export/jsonl/", None, ADMIN, 200),
        # Project and rubric pages, the upload with its mapping step (no such upload: 404).
        ("project-new", "get", "/projects/new/", None, SITE_ADMIN, 200),
        ("project-settings", "get", f"/p/{slug}/settings/", None, ADMIN, 200),
        ("rubric-new", "get", f"/p/{slug}/rubrics/new/", None, ADMIN, 200),
        ("rubric-preview", "post", f"/p/{slug}/rubrics/preview/", {}, ADMIN, 200),
        ("rubric-edit", "get", f"/p/{slug}/rubrics/{item.task_id}/", None, ADMIN, 200),
        ("upload", "get", f"/p/{slug}/upload/", None, ADMIN, 200),
        ("upload-map", "get", f"/p/{slug}/upload/{'0' * 32}/", None, ADMIN, 404),
        ("upload-progress", "get", f"/p/{slug}/upload/{'0' * 32}/progress/", None, ADMIN, 404),
        ("autorater", "get", f"/p/{slug}/autorater/", None, ADMIN, 200),
        ("retrain", "post", f"/p/{slug}/retrain/", {}, ADMIN, 200),
        ("run-progress", "get", f"/runs/{world.run.pk}/progress/", None, ADMIN, 200),
        ("run-cancel", "post", f"/runs/{world.run.pk}/cancel/", {}, ADMIN, 200),
        ("training-settings", "post", f"/p/{slug}/training-settings/", {}, ADMIN, 400),
        # The only version is already live: rolling back has nothing to go back to.
        ("version-rollback", "post", f"/p/{slug}/rollback/", {}, ADMIN, 400),
        ("version-promote", "post", f"/versions/{world.version.pk}/promote/", {}, ADMIN, 200),
        # No report was written for this version: allowed roles get 404, others 403.
        ("version-report", "get", f"/versions/{world.version.pk}/report/", None, DATA, 404),
        (
            "version-report-picture",
            "get",
            f"/versions/{world.version.pk}/report/x.png",
            None,
            DATA,
            404,
        ),
        ("insights-dashboard", "get", f"/p/{slug}/insights/", None, DATA, 200),
        ("insights-disagreements", "get", f"/p/{slug}/insights/disagreements/", None, DATA, 200),
        ("insights-item", "get", f"/p/{slug}/insights/items/{item.pk}/", None, DATA, 200),
        ("insights-versions", "get", f"/p/{slug}/insights/versions/", None, DATA, 200),
        ("insights-raters", "get", f"/p/{slug}/insights/raters/", None, DATA, 200),
        ("insights-refresh", "post", f"/p/{slug}/insights/refresh/", {}, DATA, 302),
        ("items-browse", "get", f"/p/{slug}/browse/?q=a&disagreement=no", None, DATA, 200),
        ("item-browse", "get", f"/p/{slug}/browse/{item.pk}/", None, DATA, 200),
        ("people", "get", f"/p/{slug}/people/", None, ADMIN, 200),
        ("member-add", "post", f"/p/{slug}/people/add/", {"username": "nobody"}, ADMIN, 400),
        (
            "member-role",
            "post",
            f"/p/{slug}/people/{world.users['rater'].pk}/role/",
            {"role": "rater"},
            ADMIN,
            302,
        ),
        # Not a member: allowed roles get 400 (nothing to remove), others 403.
        ("member-remove", "post", f"/p/{slug}/people/999999/remove/", {}, ADMIN, 400),
        ("invite-create", "post", f"/p/{slug}/people/invite/", {"role": "rater"}, ADMIN, 200),
        ("invite-revoke", "post", f"/p/{slug}/people/invite/999999/revoke/", {}, ADMIN, 404),
        # Open to anyone with the link; an unknown link is 404 for everybody.
        ("invite-accept", "get", "/invite/not-a-secret/", None, None, 404),
        ("admin:index", "get", "/admin/", None, SITE_ADMIN, 200),
        ("api-tokens", "get", "/account/tokens/", None, EVERYONE, 200),
        (
            "api-token-create",
            "post",
            "/account/tokens/create/",
            {"name": "t", "scopes": ["read"]},
            EVERYONE,
            200,
        ),
        # Only the owner may revoke a token: anybody else gets 404.
        (
            "api-token-revoke",
            "post",
            f"/account/tokens/{world.admin_token.pk}/revoke/",
            {},
            ADMIN,
            200,
        ),
    ]


def _url_names(patterns, prefix="") -> set[str]:
    names = set()
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            if pattern.namespace in (None, "admin"):
                inner = f"{prefix}{pattern.namespace}:" if pattern.namespace else prefix
                if pattern.namespace == "admin":
                    names.add("admin:index")
                    continue
                names |= _url_names(pattern.url_patterns, inner)
        elif isinstance(pattern, URLPattern) and pattern.name:
            names.add(prefix + pattern.name)
    return names


def test_every_page_is_in_the_matrix(world):
    names = _url_names(get_resolver().url_patterns) - {"logout"}  # POST-only, for everyone
    assert names <= {case[0] for case in page_cases(world)}, names - {
        case[0] for case in page_cases(world)
    }


@pytest.mark.parametrize("role", ROLES)
def test_page_matrix(world, role):
    mismatches = []
    for name, method, path, data, allowed, ok_status in page_cases(world):
        client = world.client(role)
        response = (
            getattr(client, method)(path, data)
            if data is not None
            else getattr(client, method)(path)
        )
        if allowed is None or role in allowed:
            good = response.status_code == ok_status
            expected = ok_status
        elif role == "anonymous" or name == "admin:index":
            location = response.headers.get("Location", "")
            good = response.status_code == 302 and "login" in location
            expected = "302 to login"
        elif name == "api-token-revoke":
            good, expected = response.status_code == 404, 404
        else:
            good, expected = response.status_code == 403, 403
        if not good:
            mismatches.append((name, method, path, expected, response.status_code))
    assert not mismatches, "\n".join(map(str, mismatches))
