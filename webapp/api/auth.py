"""Bearer-token authentication and scope checks for the API."""

from __future__ import annotations

from django.http import HttpRequest
from ninja.security import HttpBearer

from webapp.api.errors import ApiError
from webapp.api.models import ApiToken
from webapp.api.services import scopes_expand, token_authenticate

SCOPE_MISSING = "This token lacks the {scope!r} scope."


class TokenAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> ApiToken | None:
        api_token = token_authenticate(token)
        if api_token is None:
            return None
        # The token's user is the request's user (no session, so no CSRF on the API).
        request.user = api_token.user
        request.api_token = api_token
        return api_token


def require_scope(request: HttpRequest, scope: str) -> ApiToken:
    token: ApiToken = request.auth
    if scope not in scopes_expand(token.scopes):
        raise ApiError(403, SCOPE_MISSING.format(scope=scope), code="insufficient_scope")
    return token
