"""Request parsing that refuses text PostgreSQL cannot store or compare.

PostgreSQL text holds neither NUL (U+0000) nor unpaired UTF-16 surrogates (which are not valid
UTF-8), and a request carrying them would fail deep in the database as a server error. Here
such a value is refused up front with a 422 naming where it is (`body.description`,
`query.task`).
"""

from __future__ import annotations

import re
from typing import Any

from ninja.parser import Parser

from webapp.api.errors import ApiError

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def unstorable_paths(value: Any, path: str) -> list[str]:
    """Paths of the strings (keys included) in a parsed JSON value that cannot be stored."""
    if isinstance(value, str):
        return [path] if _UNSTORABLE.search(value) else []
    found: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and _UNSTORABLE.search(key):
                found.append(f"{path} (a key)")
            found += unstorable_paths(item, f"{path}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found += unstorable_paths(item, f"{path}[{i}]")
    return found


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
