"""Login with a rate limit: repeated failures from one address (or for one user) are refused."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse

TOO_MANY = "Too many failed logins. Wait a few minutes and try again."


def _keys(request: HttpRequest) -> list[str]:
    address = request.META.get("REMOTE_ADDR", "?")
    username = request.POST.get("username", "").strip().lower()[:150]
    return [f"login-fail:ip:{address}", f"login-fail:user:{username}"]


class RateLimitedLoginView(auth_views.LoginView):
    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        limit = settings.EMBER_LOGIN_MAX_FAILURES
        if any((cache.get(key) or 0) >= limit for key in _keys(request)):
            return HttpResponse(TOO_MANY, status=429, content_type="text/plain")
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form):
        for key in _keys(self.request):
            cache.add(key, 0, timeout=settings.EMBER_LOGIN_WINDOW_SECONDS)
            cache.incr(key)
        return super().form_invalid(form)
