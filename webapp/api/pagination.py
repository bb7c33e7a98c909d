"""Cursor pagination by primary key: stable under inserts, O(page) per request."""

from __future__ import annotations

import base64
import binascii

from django.db.models import QuerySet
from ninja import Field, Schema

from webapp.api.errors import ApiError

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
BAD_CURSOR = "The cursor is not one this API handed out."


class Page[T](Schema):
    results: list[T]
    next_cursor: str | None = Field(None, description="Pass as ?cursor= for the next page.")


class PageQuery(Schema):
    cursor: str | None = Field(None, max_length=100, description="From a previous page.")
    limit: int = Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)


def _encode(pk: int) -> str:
    return base64.urlsafe_b64encode(f"after:{pk}".encode()).decode().rstrip("=")


def _decode(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, _, value = text.partition(":")
        if kind != "after" or not value.isdigit() or len(value) > 18:
            raise ValueError(text)
        return int(value)
    except (ValueError, binascii.Error, UnicodeDecodeError) as error:
        raise ApiError(400, BAD_CURSOR, code="bad_cursor") from error


def paginate(queryset: QuerySet, page: PageQuery) -> dict:
    queryset = queryset.order_by("pk")
    if page.cursor:
        queryset = queryset.filter(pk__gt=_decode(page.cursor))
    rows = list(queryset[: page.limit + 1])
    more = len(rows) > page.limit
    rows = rows[: page.limit]
    return {"results": rows, "next_cursor": _encode(rows[-1].pk) if more else None}
