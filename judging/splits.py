"""Deterministic held-out splits by content, so no held-out content is ever trained on."""

from __future__ import annotations

import hashlib
import json

from judging.task_format import RESPONSE_A, RESPONSE_B, Example


def content_key(example: Example) -> str:
    """The example's task and context; for pairwise items the response order is ignored, so an
    item and its swap share a key (and a side of the split)."""
    context = dict(example.context)
    responses = None
    if RESPONSE_A in context and RESPONSE_B in context:
        responses = sorted(
            json.dumps(context.pop(field), sort_keys=True) for field in (RESPONSE_A, RESPONSE_B)
        )
    return json.dumps([example.task, context, responses, example.reference], sort_keys=True)


def is_heldout(example: Example, percent: int = 20) -> bool:
    digest = hashlib.sha256(content_key(example).encode()).digest()
    return int.from_bytes(digest[:4], "big") % 100 < percent
