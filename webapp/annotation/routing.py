"""Uncertainty-first routing: offer raters first the items the live autorater is least sure of.

Each item carries `route_priority` (higher: offered sooner by projects whose `routing` is
"uncertainty_first"). It is written when the live autorater judges the item, so a claim reads
one indexed column instead of joining judgments.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Case, FloatField, Value, When

from webapp.annotation.models import Item

# Added when the verdict cannot be trusted at all: the two orders of a pair disagree, or the
# model's answer did not parse. These items come before every merely unsure one.
DISAGREEMENT_BONUS = 1.0


def judgment_priority(
    *, probabilities: dict[str, float], consistent: bool | None, valid: bool = True
) -> float:
    """How much a human label is wanted: 1 - |max probability - 0.5| (in [0.5, 1] for a valid
    verdict; the closer the top label's probability to a coin flip, the higher), plus
    DISAGREEMENT_BONUS when the orders disagree (an invalid verdict ranks above all). Items
    never judged keep 0, after every judged one."""
    if not valid:
        return DISAGREEMENT_BONUS + 1.0
    if not probabilities:  # nothing to be unsure about (e.g. a free-text verdict)
        return 0.0
    top = max(float(p) for p in probabilities.values())
    priority = 1.0 - abs(top - 0.5)
    return priority + (DISAGREEMENT_BONUS if consistent is False else 0.0)


def route_priorities_set(judgments: Iterable) -> int:
    """Write the routing priority of the judged items in one UPDATE (a CASE over their ids).
    `judgments`: ModelJudgment rows (or anything with item_id, probabilities, consistent,
    valid). Returns the number of items updated."""
    priorities = {
        judgment.item_id: judgment_priority(
            probabilities=judgment.probabilities,
            consistent=judgment.consistent,
            valid=judgment.valid,
        )
        for judgment in judgments
    }
    if not priorities:
        return 0
    return Item.objects.filter(pk__in=priorities).update(
        route_priority=Case(
            *(When(pk=pk, then=Value(p)) for pk, p in priorities.items()),
            output_field=FloatField(),
        )
    )
