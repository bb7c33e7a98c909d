"""Text PostgreSQL cannot store: NUL characters and unpaired surrogates (in JSON values too)."""

from __future__ import annotations

import re
from typing import Any

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
