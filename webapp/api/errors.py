"""One error body for every API failure: {"error": {"status", "code", "message", "details"}}."""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied, RequestDataTooBig, SuspiciousOperation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, Throttled
from ninja.errors import ValidationError as NinjaValidationError

from judging.task_format import FormatError

logger = logging.getLogger(__name__)

CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    422: "invalid",
    429: "throttled",
    500: "server_error",
}


class ApiError(HttpError):
    """An error with its status, a stable code and an optional list of details."""

    def __init__(self, status: int, message: str, *, code: str = "", details=None) -> None:
        super().__init__(status, message)
        self.code = code or CODES.get(status, "error")
        self.details = details


def error_body(status: int, message: str, *, code: str = "", details=None) -> dict:
    body = {"status": status, "code": code or CODES.get(status, "error"), "message": message}
    if details is not None:
        body["details"] = details
    return {"error": body}


def _json_safe(details):
    return [
        {
            key: (
                value if isinstance(value, str | int | float | bool | list | None) else str(value)
            )
            for key, value in detail.items()
        }
        if isinstance(detail, dict)
        else str(detail)
        for detail in details
    ]


def register(api: NinjaAPI) -> None:
    def respond(request, status, message, **extra) -> HttpResponse:
        return api.create_response(request, error_body(status, message, **extra), status=status)

    def on_api_error(request: HttpRequest, exc: ApiError):
        return respond(request, exc.status_code, exc.message, code=exc.code, details=exc.details)

    def on_authentication(request: HttpRequest, exc: AuthenticationError):
        response = respond(
            request, 401, "A valid API token is required: 'Authorization: Bearer <token>'."
        )
        response["WWW-Authenticate"] = "Bearer"
        return response

    def on_throttled(request: HttpRequest, exc: Throttled):
        return respond(request, 429, "Too many requests; slow down.")

    def on_http_error(request: HttpRequest, exc: HttpError):
        if isinstance(exc.__cause__, ApiError):  # ninja wraps errors raised by the body parser
            return on_api_error(request, exc.__cause__)
        return respond(request, exc.status_code, str(exc))

    def on_validation(request: HttpRequest, exc: NinjaValidationError):
        return respond(request, 422, "The request is not valid.", details=_json_safe(exc.errors))

    def on_django_validation(request: HttpRequest, exc: DjangoValidationError):
        return respond(request, 422, "; ".join(exc.messages), details=exc.messages)

    def on_format(request: HttpRequest, exc: FormatError):
        return respond(request, 422, str(exc))

    def on_not_found(request: HttpRequest, exc: Http404):
        return respond(request, 404, str(exc) or "Not found.")

    def on_permission(request: HttpRequest, exc: PermissionDenied):
        return respond(request, 403, str(exc) or "You may not do this.")

    def on_too_big(request: HttpRequest, exc: RequestDataTooBig):
        return respond(request, 413, "The request body is too large.")

    def on_suspicious(request: HttpRequest, exc: SuspiciousOperation):
        return respond(request, 400, "The request was refused.")

    def on_anything(request: HttpRequest, exc: Exception):
        logger.exception("API error on %s %s", request.method, request.path)
        return respond(request, 500, "Internal error.")

    for exc_class, handler in [
        (ApiError, on_api_error),
        (AuthenticationError, on_authentication),
        (Throttled, on_throttled),
        (HttpError, on_http_error),
        (NinjaValidationError, on_validation),
        (DjangoValidationError, on_django_validation),
        (FormatError, on_format),
        (Http404, on_not_found),
        (PermissionDenied, on_permission),
        (RequestDataTooBig, on_too_big),
        (SuspiciousOperation, on_suspicious),
        (Exception, on_anything),
    ]:
        api.add_exception_handler(exc_class, handler)
