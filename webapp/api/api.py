"""Ember's REST API (django-ninja): /api/v1/, schema at /api/v1/openapi.json, docs at
/api/v1/docs. Bearer tokens only (no session cookies, so no CSRF surface)."""

from __future__ import annotations

from django.conf import settings
from ninja import NinjaAPI
from ninja.throttling import AuthRateThrottle

from webapp.api import errors, interchange
from webapp.api.auth import TokenAuth
from webapp.api.openapi import document_statuses
from webapp.api.parser import StorableTextParser
from webapp.api.routers import account, export, items, jobs, judge, judgments, projects, versions


class EmberApi(NinjaAPI):
    """The API, whose schema documents every status each operation can answer."""

    def get_openapi_schema(self, *args, **kwargs):
        schema = super().get_openapi_schema(*args, **kwargs)
        # The pushed items' body is read by hand (JSON or NDJSON): its models join by name.
        schema.setdefault("components", {}).setdefault("schemas", {}).update(
            interchange.openapi_components()
        )
        return document_statuses(schema)


api = EmberApi(
    title="Ember API",
    version="1",
    description=(
        "Push items, start training jobs, read human and autorater judgments and ask the "
        "live autorater for verdicts. Authenticate with 'Authorization: Bearer <token>' "
        "(create tokens on the API tokens page or with manage.py create_api_token)."
    ),
    auth=TokenAuth(),
    throttle=[AuthRateThrottle(settings.EMBER_API_RATE)],
    urls_namespace="api-v1",
    parser=StorableTextParser(),
)
errors.register(api)
for module in (account, projects, items, judgments, jobs, versions, judge, export):
    api.add_router("", module.router)
