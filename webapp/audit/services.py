"""Writing the audit log. Every service that changes something people care about (promote, roll
back, retrain, cancel, import, adjudicate, training settings, tokens, projects) records the
change here, inside its own transaction, so a web page and the API doing the same thing are
audited the same way.

Such a service takes `actor` (the user, or None when the system acts on its own) and `via`
(how the request arrived: the API token and the client address; None outside a request)."""

from __future__ import annotations

import dataclasses
from typing import Any

from django.http import HttpRequest

from webapp.audit.models import AuditLog


@dataclasses.dataclass(frozen=True)
class Via:
    """How a change reached Ember: the API token it came with (None from a web page) and the
    client's address."""

    token: Any = None  # webapp.api.models.ApiToken
    address: str | None = None

    @classmethod
    def of(cls, request: HttpRequest) -> Via:
        return cls(
            token=getattr(request, "api_token", None),
            address=request.META.get("REMOTE_ADDR") or None,
        )


def audit_record(
    *,
    action: str,
    actor=None,
    obj=None,
    summary: dict | None = None,
    via: Via | None = None,
) -> AuditLog:
    """One audit row: `action` ("version.promote", ...), on `obj` (its type and pk)."""
    via = via or Via()
    user = actor if actor is not None and actor.is_authenticated else None
    return AuditLog.objects.create(
        user=user,
        username=getattr(user, "username", "") or "",
        token=via.token,
        action=action,
        object_type=type(obj).__name__ if obj is not None else "",
        object_id=str(getattr(obj, "pk", "") or "") if obj is not None else "",
        summary=summary or {},
        address=via.address,
    )
