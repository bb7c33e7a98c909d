"""Tokens: hashed at rest, shown once, scoped, revocable; every write lands in the audit log."""

from __future__ import annotations

import hashlib
import io

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command

from webapp.api.models import ApiToken
from webapp.api.services import token_authenticate, token_create, token_revoke
from webapp.audit.models import AuditLog

pytestmark = pytest.mark.django_db


def test_only_a_hash_of_the_secret_is_stored(world):
    token, secret = token_create(user=world.users["analyst"], name="ci", scopes=["read"])
    row = ApiToken.objects.get(pk=token.pk)
    assert row.token_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in str(row.__dict__.values())
    assert secret.startswith(f"ember_{row.prefix}_") and len(secret) > 50
    assert token_authenticate(secret) == row
    assert token_authenticate(secret[:-1] + ("x" if secret[-1] != "x" else "y")) is None
    assert token_authenticate(f"ember_{row.prefix}_guess") is None
    assert token_authenticate("not-a-token") is None


def test_revoked_token_stops_working_at_once(world):
    token, secret = token_create(user=world.users["admin"], name="ci", scopes=["write"])
    client = world.client("anonymous")
    headers = {"Authorization": f"Bearer {secret}"}
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    token_revoke(token=token, by=world.users["admin"])
    response = client.get("/api/v1/me", headers=headers)
    assert response.status_code == 401 and response.json()["error"]["code"] == "unauthorized"
    assert ApiToken.objects.get(pk=token.pk).revoked_at is not None


def test_inactive_user_token_is_refused(world):
    _, secret = token_create(user=world.users["rater"], name="ci", scopes=["read"])
    world.users["rater"].is_active = False
    world.users["rater"].save()
    assert (
        world.client("anonymous")
        .get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
        .status_code
        == 401
    )


def test_scopes_are_checked_at_creation(world):
    with pytest.raises(ValidationError, match="Only admins"):
        token_create(user=world.users["rater"], name="x", scopes=["admin"])
    with pytest.raises(ValidationError, match="Unknown scope"):
        token_create(user=world.users["admin"], name="x", scopes=["root"])
    with pytest.raises(ValidationError, match="at least one scope"):
        token_create(user=world.users["admin"], name="x", scopes=[])
    with pytest.raises(ValidationError, match="name"):
        token_create(user=world.users["admin"], name="  ", scopes=["read"])


def test_token_page_shows_the_secret_once_and_revokes(world):
    client = world.client("analyst")
    response = client.post("/account/tokens/create/", {"name": "pipeline", "scopes": ["write"]})
    assert response.status_code == 200
    token = ApiToken.objects.get(user=world.users["analyst"], name="pipeline")
    secret = response.context["secret"]
    assert secret in response.content.decode() and token_authenticate(secret) == token
    listing = client.get("/account/tokens/").content.decode()
    assert "pipeline" in listing and secret not in listing
    client.post(f"/account/tokens/{token.pk}/revoke/")
    assert token_authenticate(secret) is None
    # Admin scope is not offered to (and refused for) non-admins.
    refused = client.post("/account/tokens/create/", {"name": "x", "scopes": ["admin"]})
    assert refused.status_code == 400 and "Only admins" in refused.content.decode()


def test_create_api_token_command_prints_a_working_token(world):
    out, err = io.StringIO(), io.StringIO()
    call_command("create_api_token", "admin", "--scope", "write", stdout=out, stderr=err)
    secret = out.getvalue().strip()
    assert token_authenticate(secret).scopes == ["write"]


def test_every_api_write_is_audited(world):
    secret = world.secret("admin")
    client = world.client("anonymous")
    headers = {"Authorization": f"Bearer {secret}"}
    slug = world.project.slug
    before = AuditLog.objects.count()
    assert (
        client.post(
            "/api/v1/projects", {"name": "Audited"}, "application/json", headers=headers
        ).status_code
        == 201
    )
    assert client.post(f"/api/v1/projects/{slug}/jobs", headers=headers).status_code == 202
    assert client.post(f"/api/v1/jobs/{world.run.pk}/cancel", headers=headers).status_code == 200
    promote = client.post(f"/api/v1/projects/{slug}/versions/1/promote", headers=headers)
    assert promote.status_code == 200
    rows = list(AuditLog.objects.order_by("id")[before:])
    assert [row.action for row in rows] == [
        "project.create",
        "job.start",
        "job.cancel",
        "version.promote",
    ]
    assert {row.username for row in rows} == {"admin"}
    assert all(row.token and row.token.name == "admin-token" and row.at for row in rows)
    # Reading the log: admins with the admin scope.
    log = client.get("/api/v1/audit?action=job.cancel", headers=headers).json()
    assert [entry["object_id"] for entry in log["results"]] == [str(world.run.pk)]
