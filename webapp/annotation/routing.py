"""Uncertainty-first routing: offer raters first the items the live autorater is least sure of.

Each item carries `route_priority` (higher: offered sooner by projects whose `routing` is
"uncertainty_first"). It is written when the live autorater judges the item, so a claim reads
one indexed column instead of joining judgments.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from django.db.models import Case, FloatField, Value, When

from webapp.annotation.models import Item

# Priority bands (higher is offered sooner). A judged item's band plus its uncertainty in
# [0, 1]; the bands are wider than that span, so every item of a higher band comes first.
JUDGED = 1.0  # a usable verdict whose two orders agree (or a single-order task): [1, 2]
DISAGREEMENT_BONUS = 2.0  # added when the two orders disagree: [3, 4], before every agreeing one
UNUSABLE = 0.0  # no usable verdict: the level of items never judged (Item's default, 0)


def uncertainty(probabilities: dict[str, float]) -> float:
    """Normalised entropy of a verdict's label distribution, in [0, 1]: 1 when every label is
    equally likely (a 0.2 top probability over five labels, 0.5/0.5 over two), 0 when one label
    has it all. Scale-free: right for any number of labels (1 - |top - 0.5| is not: with five
    labels a maximally unsure 0.2 top would rank below a 0.5 one). The probabilities are
    renormalised first; a single label (nothing to choose between) is 0."""
    values = [max(float(p), 0.0) for p in probabilities.values()]
    total = sum(values)
    if len(values) < 2 or not math.isfinite(total) or total <= 0.0:
        return 0.0
    entropy = -sum((p / total) * math.log(p / total) for p in values if p > 0.0)
    return min(max(entropy / math.log(len(values)), 0.0), 1.0)


def judgment_priority(
    *, probabilities: dict[str, float], consistent: bool | None, valid: bool = True
) -> float:
    """How much a human label is wanted, by the live autorater's verdict on the item:

    - its two orders disagree: DISAGREEMENT_BONUS + JUDGED + uncertainty, in [3, 4], first;
    - otherwise JUDGED + uncertainty (normalised entropy, see `uncertainty`), in [1, 2]: the
      closer to "every label equally likely", the sooner;
    - a verdict the autorater could not give (invalid: its answer did not parse; or no
      probabilities, e.g. a free-text task): UNUSABLE, 0, the same level as items never judged
      (which keep the column's default 0), so it never outranks a judged item; among these
      import order decides.
    """
    if not valid or not probabilities:
        return UNUSABLE
    priority = JUDGED + uncertainty(probabilities)
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
