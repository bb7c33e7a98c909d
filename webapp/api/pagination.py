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
# What a cursor looks like: "after:<up to 18 digits>" in URL-safe base64 without padding
# ("after:" is "YWZ0ZXI6"; three ASCII digits make four characters, one or two digits at the
# end two or three). Documented on every paginated operation (webapp.api.openapi).
_DIGIT1 = "(?:[MN][DTjz]|O[DT])"  # the first digit's 8 bits and the next one's top 4
_DIGITS3 = f"{_DIGIT1}[AEIMQUYcgk][w-z0-5]"
CURSOR_PATTERN = (
    f"^YWZ0ZXI6(?:{_DIGITS3}){{0,5}}(?:{_DIGITS3}|{_DIGIT1}[AEIMQUYcgk]|[MN][AQgw]|O[AQ])$"
)


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
    if page.cursor is not None:  # an empty cursor is not one the API handed out either
        queryset = queryset.filter(pk__gt=_decode(page.cursor))
    rows = list(queryset[: page.limit + 1])
    more = len(rows) > page.limit
    rows = rows[: page.limit]
    return {"results": rows, "next_cursor": _encode(rows[-1].pk) if more else None}
