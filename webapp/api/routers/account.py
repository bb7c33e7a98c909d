"""Who the token is, and the audit log (admins)."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema

from webapp.annotation.models import ROLE_RANK, Membership
from webapp.annotation.selectors import user_is_admin
from webapp.api.access import require_admin
from webapp.api.auth import require_scope
from webapp.api.pagination import Page, PageQuery, paginate
from webapp.api.schemas import AuditOut, ErrorOut, MeOut
from webapp.audit.models import AuditLog

router = Router(tags=["account"])
ERRORS = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 422: ErrorOut}


@router.get("/me", response={200: MeOut, **ERRORS})
def me(request: HttpRequest):
    token = require_scope(request, "read")
    user = request.user
    # The highest role the user holds in any project (site admins: admin).
    roles = set(Membership.objects.filter(user=user).values_list("role", flat=True))
    if user_is_admin(user):
        roles.add(Membership.Role.ADMIN)
    role = max(roles, key=ROLE_RANK.__getitem__, default=None)
    return {"username": user.username, "token": token.prefix, "scopes": token.scopes, "role": role}


class AuditFilter(Schema):
    action: str | None = Field(None, max_length=60)
    username: str | None = Field(None, max_length=150)


@router.get("/audit", response={200: Page[AuditOut], **ERRORS})
def audit_log(request: HttpRequest, page: Query[PageQuery], where: Query[AuditFilter]):
    """Every write, newest last (admins, admin scope)."""
    require_admin(request, "admin")
    rows = AuditLog.objects.select_related("token")
    if where.action is not None:
        rows = rows.filter(action=where.action)
    if where.username is not None:
        rows = rows.filter(username=where.username)
    return paginate(rows, page)
