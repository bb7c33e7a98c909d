"""FLAMe-Opt-RM mixture weights from tail-patch probes (arXiv 2407.10817 section 4.3): steps
3 to 5 of training/variants/tailpatch.py, pure functions of the probes' results.

3. Rate each (task, category) effect: helpful +2 (improves by >= `significant` at the end and
   by >= `slight` at every evaluation point: significant and stable), somewhat helpful +1
   (improves by >= `slight` at the end), harmful -1 (drops by >= `significant`), else 0.
4. Bundles: "general" (total rating >= `general_min_total`, by default the number of
   categories: the paper's >= 5 over 5 categories), one bundle per category (its score after
   the tail-patch reaches the category's threshold tau, or, without a tau, the effect there
   is rated helpful), and "others" (in no bundle).
5. Weights: general 100K, each category bundle 30K (summed over bundles), others 3K; in each
   of `weak_categories`, the top two tasks of that category's bundle get at least 200K. The
   result is normalised to sum to 1 (`TrainConfig.mixture_weights` accepts either form).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

W_GENERAL = 100_000.0
W_SPECIFIC = 30_000.0
W_OTHERS = 3_000.0
W_TOP_SPECIFIC = 200_000.0


def rate_effect(
    base: float, curve: Sequence[Sequence[float]], significant: float, slight: float
) -> int:
    """+2 helpful (significant and stable), +1 somewhat helpful, 0 no clear effect, -1 harmful."""
    deltas = [float(point[1]) - base for point in curve]
    final = deltas[-1]
    if final <= -significant:
        return -1
    if final >= significant and min(deltas) >= slight:
        return 2
    if final >= slight:
        return 1
    return 0


def _as_list(probe_results: Mapping[str, Any] | Iterable[Mapping[str, Any]]) -> list:
    if isinstance(probe_results, Mapping):
        return [dict(probe, task=probe.get("task", name)) for name, probe in probe_results.items()]
    return list(probe_results)


def tailpatch_plan(
    probe_results: Mapping[str, Any] | Iterable[Mapping[str, Any]],
    *,
    significant: float = 0.05,
    slight: float = 0.01,
    general_min_total: int | None = None,
    thresholds: Mapping[str, float] | None = None,
    weak_categories: Iterable[str] = (),
    w_general: float = W_GENERAL,
    w_specific: float = W_SPECIFIC,
    w_others: float = W_OTHERS,
    w_top_specific: float = W_TOP_SPECIFIC,
    top_k: int = 2,
) -> dict[str, Any]:
    """Ratings, totals, bundles, raw and normalised weights from the probes (see module doc)."""
    probes = _as_list(probe_results)
    if not probes:
        raise ValueError("no probe results")
    if not 0 <= slight <= significant:
        raise ValueError("need 0 <= slight <= significant")
    categories = sorted({c for probe in probes for c in probe["categories"]})
    weak = list(weak_categories)
    for name in [*weak, *(thresholds or {})]:
        if name not in categories:
            raise ValueError(f"unknown category {name!r}; probed: {categories}")
    min_total = len(categories) if general_min_total is None else general_min_total
    ratings: dict[str, dict[str, int]] = {}
    after: dict[str, dict[str, float]] = {}
    for probe in probes:
        task = probe["task"]
        ratings[task] = {}
        after[task] = {}
        for category, values in probe["categories"].items():
            curve = values.get("curve") or [[probe.get("steps", 0), values["after"]]]
            ratings[task][category] = rate_effect(values["base"], curve, significant, slight)
            after[task][category] = float(values["after"])
    totals = {task: sum(r.values()) for task, r in ratings.items()}
    bundles: dict[str, list[str]] = {"general": []}
    bundles["general"] = sorted(
        t for t, total in totals.items() if total > 0 and total >= min_total
    )
    for category in categories:
        tau = (thresholds or {}).get(category)
        members = [
            task
            for task in ratings
            if category in ratings[task]
            and (after[task][category] >= tau if tau is not None else ratings[task][category] == 2)
        ]
        bundles[f"category:{category}"] = sorted(members)
    in_any = {t for name, members in bundles.items() for t in members}
    bundles["others"] = sorted(set(ratings) - in_any)

    raw: dict[str, float] = {}
    for task in ratings:
        weight = w_general * (task in bundles["general"])
        weight += w_specific * sum(task in bundles[f"category:{c}"] for c in categories)
        raw[task] = weight if weight > 0 else w_others
    top: dict[str, list[str]] = {}
    for category in weak:
        members = bundles[f"category:{category}"]
        ranked = sorted(members, key=lambda t: (-after[t][category], -ratings[t][category], t))
        top[category] = ranked[:top_k]
        for task in top[category]:
            raw[task] = max(raw[task], w_top_specific)
    total = sum(raw.values())
    return {
        "categories": categories,
        "ratings": ratings,
        "totals": totals,
        "bundles": bundles,
        "top_specific": top,
        "raw_weights": raw,
        "weights": {task: w / total for task, w in sorted(raw.items())},
        "settings": {
            "significant": significant,
            "slight": slight,
            "general_min_total": min_total,
            "thresholds": dict(thresholds or {}),
            "weak_categories": weak,
            "w_general": w_general,
            "w_specific": w_specific,
            "w_others": w_others,
            "w_top_specific": w_top_specific,
            "top_k": top_k,
        },
    }


def tailpatch_weights(
    probe_results: Mapping[str, Any] | Iterable[Mapping[str, Any]], **settings: Any
) -> dict[str, float]:
    """Mixture weights (summing to 1) from the probes: see `tailpatch_plan` for the settings."""
    return tailpatch_plan(probe_results, **settings)["weights"]
