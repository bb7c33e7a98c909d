"""Writes for the API: tokens (create, authenticate, revoke) and judge jobs."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from webapp.annotation.models import Project
from webapp.annotation.selectors import user_admins_any_project
from webapp.api.models import ApiToken, JudgeJob
from webapp.audit.services import Via, audit_record

TOKEN_START = "ember"
SCOPE_ORDER = ("read", "write", "admin")
NAME_REQUIRED = "Give the token a name."
SCOPES_REQUIRED = "Choose at least one scope: read, write or admin."
UNKNOWN_SCOPE = "Unknown scope {scope!r}; scopes are read, write and admin."
ADMIN_SCOPE_NEEDS_ADMIN = "Only admins can create tokens with the admin scope."
# last_used_at is written at most this often per token (not on every request).
LAST_USED_RESOLUTION = timedelta(seconds=60)


def token_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def scopes_expand(scopes: Sequence[str]) -> frozenset[str]:
    """Each scope includes the weaker ones: admin -> write -> read."""
    top = max((SCOPE_ORDER.index(scope) for scope in scopes if scope in SCOPE_ORDER), default=-1)
    return frozenset(SCOPE_ORDER[: top + 1])


def token_create(
    *, user, name: str, scopes: Sequence[str], via: Via | None = None
) -> tuple[ApiToken, str]:
    """A new token for the user. Returns (token, secret): the secret is not stored anywhere.
    Audited as "token.create" (with the request's address when `via` is given)."""
    name = (name or "").strip()
    if not name:
        raise ValidationError(NAME_REQUIRED)
    scopes = sorted(set(scopes), key=lambda s: SCOPE_ORDER.index(s) if s in SCOPE_ORDER else 99)
    if not scopes:
        raise ValidationError(SCOPES_REQUIRED)
    for scope in scopes:
        if scope not in SCOPE_ORDER:
            raise ValidationError(UNKNOWN_SCOPE.format(scope=scope))
    if "admin" in scopes and not user_admins_any_project(user):
        raise ValidationError(ADMIN_SCOPE_NEEDS_ADMIN)
    prefix = secrets.token_hex(6)
    secret = f"{TOKEN_START}_{prefix}_{secrets.token_urlsafe(32)}"
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=user, name=name[:100], prefix=prefix, token_hash=token_hash(secret), scopes=scopes
        )
        audit_record(
            actor=user, action="token.create", via=via, obj=token, summary={"scopes": scopes}
        )
    return token, secret


def token_authenticate(secret: str) -> ApiToken | None:
    """The active token for a presented secret, or None (unknown, wrong, revoked, inactive)."""
    parts = (secret or "").split("_", 2)
    if len(parts) != 3 or parts[0] != TOKEN_START or not parts[1] or len(parts[1]) > 16:
        return None
    token = ApiToken.objects.select_related("user").filter(prefix=parts[1]).first()
    if token is None or not hmac.compare_digest(token.token_hash, token_hash(secret)):
        return None
    if token.revoked_at is not None or not token.user.is_active:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


def token_revoke(*, token: ApiToken, by, via: Via | None = None) -> ApiToken:
    """Revoke a token (idempotent): it stops working at once and stays listed as revoked."""
    with transaction.atomic():
        updated = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        if updated:
            audit_record(
                actor=by, action="token.revoke", via=via, obj=token, summary={"name": token.name}
            )
    token.refresh_from_db()
    return token


def judge_job_create(*, project: Project, version, item_ids: Sequence[int], user) -> JudgeJob:
    """Queue judging of items by a version; verdicts land in the autorater judgments."""
    from webapp.autoraters.services import judgments_enqueue

    with transaction.atomic():
        job = JudgeJob.objects.create(
            project=project, version=version, requested_by=user, item_ids=list(item_ids)
        )
        transaction.on_commit(lambda: judgments_enqueue(version=version, item_ids=list(item_ids)))
    return job
