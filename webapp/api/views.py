"""The API tokens page: create (the secret is shown once), list, revoke."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET, require_POST

from webapp.annotation.selectors import user_admins_any_project
from webapp.api.models import ApiToken
from webapp.api.selectors import tokens_for_user
from webapp.api.services import SCOPE_ORDER, token_create, token_revoke
from webapp.audit.services import Via


def _context(request: HttpRequest, **extra) -> dict:
    scopes = SCOPE_ORDER if user_admins_any_project(request.user) else SCOPE_ORDER[:2]
    return {"tokens": tokens_for_user(request.user), "scopes": scopes, **extra}


@login_required
@require_GET
def tokens_page(request: HttpRequest) -> HttpResponse:
    return render(request, "api/tokens.html", _context(request))


@login_required
@require_POST
def token_create_view(request: HttpRequest) -> HttpResponse:
    try:
        token, secret = token_create(
            user=request.user,
            name=request.POST.get("name", ""),
            scopes=request.POST.getlist("scopes"),
            via=Via.of(request),
        )
    except ValidationError as error:
        context = _context(request, error="; ".join(error.messages))
        return render(request, "api/tokens.html", context, status=400)
    return render(request, "api/tokens.html", _context(request, created=token, secret=secret))


@login_required
@require_POST
def token_revoke_view(request: HttpRequest, token_id: int) -> HttpResponse:
    # Only the owner's tokens are found: someone else's token id is a 404.
    token = get_object_or_404(ApiToken, pk=token_id, user=request.user)
    token_revoke(token=token, by=request.user, via=Via.of(request))
    return render(request, "api/tokens.html", _context(request, revoked=token))
