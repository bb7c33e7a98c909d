"""CSV / JSONL downloads of a view's rows."""

from __future__ import annotations

import csv
import datetime
import io
import json
from collections.abc import Iterable
from typing import Any

from django.http import HttpResponse

FORMATS = ("csv", "jsonl")
# A cell starting with one of these is a formula to a spreadsheet: prefix it with a quote.
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def _plain(value: Any) -> Any:
    if isinstance(value, datetime.date | datetime.datetime):
        return value.isoformat()
    return value


def _cell(value: Any) -> Any:
    value = _plain(value)
    if isinstance(value, dict | list):
        value = json.dumps(value, sort_keys=True)
    if isinstance(value, str) and value.startswith(_FORMULA):
        return "'" + value
    return value


def export_response(rows: Iterable[dict[str, Any]], fmt: str, name: str) -> HttpResponse:
    rows = list(rows)
    if fmt == "jsonl":
        body = "".join(
            json.dumps({k: _plain(v) for k, v in row.items()}, sort_keys=False) + "\n"
            for row in rows
        )
        response = HttpResponse(body, content_type="application/x-ndjson; charset=utf-8")
    else:
        out = io.StringIO()
        fields = list(dict.fromkeys(k for row in rows for k in row))
        writer = csv.DictWriter(out, fieldnames=fields)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _cell(v) for k, v in row.items()})
        response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}.{fmt}"'
    return response


def ci_fields(prefix: str, result: dict[str, Any] | None) -> dict[str, Any]:
    result = result or {}
    ci = result.get("ci") or [None, None]
    return {prefix: result.get("value"), f"{prefix}_ci_low": ci[0], f"{prefix}_ci_high": ci[1]}
