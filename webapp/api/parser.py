"""Request parsing that refuses text PostgreSQL cannot store or compare.

PostgreSQL text holds neither NUL (U+0000) nor unpaired UTF-16 surrogates (which are not valid
UTF-8), and a request carrying them would fail deep in the database as a server error. Here
such a value is refused up front with a 422 naming where it is (`body.description`,
`query.task`).
"""

from __future__ import annotations

from ninja.parser import Parser

from webapp.api.errors import ApiError
from webapp.common.storable import unstorable_paths

__all__ = ["StorableTextParser", "unstorable_paths"]


def _refuse(paths: list[str]) -> None:
    if paths:
        raise ApiError(
            422,
            "Text may not contain NUL characters or unpaired surrogates: " + ", ".join(paths[:10]),
            details=paths[:100],
        )


class StorableTextParser(Parser):
    def parse_body(self, request):
        data = super().parse_body(request)
        _refuse(unstorable_paths(data, "body"))
        return data

    def parse_querydict(self, data, list_fields, request):
        result = super().parse_querydict(data, list_fields, request)
        _refuse(unstorable_paths(result, "query"))
        return result
