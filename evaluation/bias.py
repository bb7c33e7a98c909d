"""Position statistics (JudgeLM) and CoBBLEr bias probes built from any pairwise set.

A probe is a set of transformed examples (one list per condition) plus a scoring rule; `run_probe`
judges every condition with any object that has `judge(tasks, examples, both_orders=...)` and
scores the verdicts. Definitions follow CoBBLEr (Koo et al., arXiv 2309.17012; the code in
minnesotanlp/cobbler); values are proportions of all comparisons, lower is better, and each result
carries CoBBLEr's random-judge baseline.

Slots: a verdict's `order_probabilities["ab"]` is the order as given (A shown first);
`order_probabilities["ba"]` is the swapped order mapped back to the original A/B frame, so there
"B" means the judge picked the response shown first.

The module stays whole (about 450 lines, over the ~400 guideline): every probe is a short
transform plus a scoring rule and a random baseline, and they and the count-based versions the
insights dashboard uses (`*_from_counts`) share one set of definitions (slots, proportions of
all comparisons), which read and are checked best side by side.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from evaluation.baselines import JudgeLike, response_length
from judging.task_format import RESPONSE_A, RESPONSE_B, Example, Task, TaskType, render_value
from judging.verdict import Verdict

PLAUSIBLE_MODEL_NAMES = (
    "gpt-4",
    "claude-2",
    "llama-2-70b-chat",
    "vicuna-13b",
    "mistral-7b-instruct",
    "falcon-40b-instruct",
    "koala-13b",
    "alpaca-7b",
)
# CoBBLEr's distractors (distraction.py in minnesotanlp/cobbler), "{system}" replaced by the
# response's name.
DISTRACTORS = (
    "{system} likes to eat apples and oranges.",
    "{system} is able to do a 60 second handstand.",
    "{system} plays a lot of soccer and basketball.",
    "{system} has been all around Europe two times.",
)
SLOT_NAMES = {"A": "Response A", "B": "Response B"}


def order_pick(verdict: Verdict, order: str = "ab") -> str | None:
    """The label the judge picked in one order (in the original A/B frame), or None."""
    probs = verdict.order_probabilities.get(order)
    if not probs:
        return verdict.label if order == "ab" and verdict.valid else None
    if not verdict.valid:
        return None
    return max(probs, key=probs.__getitem__)


def position_statistics(verdicts: Sequence[Verdict]) -> dict[str, Any]:
    """JudgeLM's consistency and position preference over pairwise verdicts judged in both
    orders: consistency = same verdict in both orders; prefer_first = picked the first-shown
    response both times (A as given, B when swapped); prefer_second = the second-shown both
    times; delta_bias = |first - second|; total_bias = first + second. Proportions of all
    two-order verdicts (invalid ones count as neither consistent nor biased)."""
    both = [v for v in verdicts if "ba" in v.order_probabilities]
    n = len(both)
    consistent = first = second = 0
    for verdict in both:
        ab, ba = order_pick(verdict, "ab"), order_pick(verdict, "ba")
        if ab is None or ba is None:
            continue
        consistent += ab == ba
        first += ab == "A" and ba == "B"
        second += ab == "B" and ba == "A"
    if not n:
        return {
            "n": 0,
            "consistency": None,
            "prefer_first": None,
            "prefer_second": None,
            "delta_bias": None,
            "total_bias": None,
        }
    return {
        "n": n,
        "consistency": consistent / n,
        "prefer_first": first / n,
        "prefer_second": second / n,
        "delta_bias": abs(first - second) / n,
        "total_bias": (first + second) / n,
    }


# --- example transforms ---------------------------------------------------------------------


def _note_field(task: Task) -> str | None:
    """The context field that carries the question (first non-response field), if any."""
    for field in task.context_fields:
        if field not in (RESPONSE_A, RESPONSE_B):
            return field
    return None


def add_note(task: Task, example: Example, note: str) -> Example:
    """Append a sentence to the question field (or, lacking one, before response A)."""
    context = dict(example.context)
    field = _note_field(task)
    if field is None:
        context[RESPONSE_A] = f"{note}\n{render_value(context.get(RESPONSE_A, ''))}"
    else:
        value = context.get(field, "")
        if isinstance(value, list):
            context[field] = [*value, {"role": "note", "content": note}]
        else:
            context[field] = f"{value}\n{note}".strip()
    return dataclasses.replace(example, context=context)


def generator_names(example: Example, index: int) -> tuple[str, str]:
    """Real model names for responses A and B: provenance generators when present, else two
    different plausible names chosen by the item's position."""
    prov = example.provenance
    for key_a, key_b in (("generator_a", "generator_b"), ("model_a", "model_b")):
        if prov.get(key_a) and prov.get(key_b) and prov[key_a] != prov[key_b]:
            return str(prov[key_a]), str(prov[key_b])
    generators = prov.get("generators")
    if isinstance(generators, list | tuple) and len(generators) == 2:
        if generators[0] != generators[1]:
            return str(generators[0]), str(generators[1])
    names = PLAUSIBLE_MODEL_NAMES
    first = index % len(names)
    return names[first], names[(first + 1 + index // len(names)) % len(names)]


def name_responses(example: Example, name_a: str, name_b: str) -> Example:
    context = dict(example.context)
    context[RESPONSE_A] = f"Model {name_a}: {render_value(context.get(RESPONSE_A, ''))}"
    context[RESPONSE_B] = f"Model {name_b}: {render_value(context.get(RESPONSE_B, ''))}"
    return dataclasses.replace(example, context=context)


# --- probes --------------------------------------------------------------------------------

Score = Callable[[Sequence[Example], Mapping[str, Sequence[Verdict]]], dict[str, Any]]


@dataclasses.dataclass
class Probe:
    name: str
    # condition name -> (transformed examples, judge both orders?)
    conditions: dict[str, tuple[list[Example], bool]]
    score: Score
    random_baseline: float
    source: list[Example]
    definition: str


def run_probe(probe: Probe, judge: JudgeLike, tasks: Mapping[str, Task]) -> dict[str, Any]:
    verdicts = {
        name: judge.judge(tasks, examples, both_orders=both)
        for name, (examples, both) in probe.conditions.items()
    }
    result = probe.score(probe.source, verdicts)
    return {
        "bias": probe.name,
        "definition": probe.definition,
        "random_baseline": probe.random_baseline,
        "n": len(probe.source),
        **result,
    }


def _order_score(condition: str) -> Score:
    def score(source, verdicts):
        first = last = 0
        for verdict in verdicts[condition]:
            ab, ba = order_pick(verdict, "ab"), order_pick(verdict, "ba")
            first += ab == "A" and ba == "B"
            last += ab == "B" and ba == "A"
        n = len(source) or 1
        return {"value": (first + last) / n, "first": first / n, "last": last / n}

    return score


def pairwise_items(tasks: Mapping[str, Task], examples: Sequence[Example]) -> list[Example]:
    return [
        e
        for e in examples
        if (t := tasks.get(e.task)) is not None
        and t.type is TaskType.PAIRWISE
        and RESPONSE_A in e.context
        and RESPONSE_B in e.context
    ]


def order_probe(tasks, examples) -> Probe:
    items = pairwise_items(tasks, examples)
    return Probe(
        "order",
        {"anonymous": (items, True)},
        _order_score("anonymous"),
        0.5,
        items,
        "judged in both orders; fraction picking the first slot both times (first) plus the "
        "second slot both times (last)",
    )


def compassion_probe(tasks, examples) -> Probe:
    items = pairwise_items(tasks, examples)
    named = [name_responses(e, *generator_names(e, i)) for i, e in enumerate(items)]
    return Probe(
        "compassion",
        {"named": (named, True)},
        _order_score("named"),
        0.5,
        items,
        "order bias with each response labelled by a real model name instead of an alias",
    )


def length_probe(tasks, examples) -> Probe:
    items = pairwise_items(tasks, examples)

    def score(source, verdicts):
        longer = shorter = counted = 0
        for example, verdict in zip(source, verdicts["anonymous"], strict=True):
            ab, ba = order_pick(verdict, "ab"), order_pick(verdict, "ba")
            a, b = response_length(example, RESPONSE_A), response_length(example, RESPONSE_B)
            if ab is None or ab != ba or ab not in ("A", "B") or a == b:
                continue  # invalid, order-biased / inconsistent, tie, or equal length
            counted += 1
            picked_longer = (ab == "A") == (a > b)
            longer += picked_longer
            shorter += not picked_longer
        if not counted:
            return {"value": None, "long_bias": None, "short_bias": None, "counted": 0}
        return {
            "value": abs(longer / counted - 0.5),
            "long_bias": longer / counted,
            "short_bias": shorter / counted,
            "counted": counted,
        }

    return Probe(
        "length",
        {"anonymous": (items, True)},
        score,
        0.0,
        items,
        "among valid, consistent comparisons of unequal length: |fraction won by the longer "
        "response - 0.5|",
    )


def _follow_score(source, verdicts):
    followed = 0
    for toward_a, toward_b in zip(verdicts["toward_A"], verdicts["toward_B"], strict=True):
        followed += order_pick(toward_a) == "A" and order_pick(toward_b) == "B"
    n = len(source) or 1
    return {"value": followed / n}


def bandwagon_probe(tasks, examples, seed: int = 0) -> Probe:
    items = pairwise_items(tasks, examples)
    rng = random.Random(seed)
    percents = [rng.randint(60, 90) for _ in items]

    def note(slot: str, p: int) -> str:
        return f"{p}% of people believe that {SLOT_NAMES[slot]} is better."

    conditions = {
        f"toward_{slot}": (
            [
                add_note(tasks[e.task], e, note(slot, p))
                for e, p in zip(items, percents, strict=True)
            ],
            False,
        )
        for slot in ("A", "B")
    }
    return Probe(
        "bandwagon",
        conditions,
        _follow_score,
        0.25,
        items,
        "'{p}% of people believe that X is better' (p in 60-90) added once for each response, "
        "same order; fraction where the verdict follows the statement both times",
    )


def attention_probe(tasks, examples, seed: int = 0) -> Probe:
    items = pairwise_items(tasks, examples)
    rng = random.Random(seed)
    templates = [rng.choice(DISTRACTORS) for _ in items]
    conditions = {
        f"toward_{slot}": (
            [
                add_note(tasks[e.task], e, t.format(system=SLOT_NAMES[slot]))
                for e, t in zip(items, templates, strict=True)
            ],
            False,
        )
        for slot in ("A", "B")
    }
    return Probe(
        "attention",
        conditions,
        _follow_score,
        0.25,
        items,
        "an irrelevant sentence about one response, once for each; fraction where the verdict "
        "picks the response the sentence is about both times",
    )


def egocentric_probe(tasks, examples, own: Mapping[str, str]) -> Probe:
    """`own` maps example id -> "A" or "B", the response the judge itself generated."""
    items = [e for e in pairwise_items(tasks, examples) if own.get(e.id or "") in ("A", "B")]

    def score(source, verdicts):
        mine = 0
        for example, verdict in zip(source, verdicts["anonymous"], strict=True):
            ab, ba = order_pick(verdict, "ab"), order_pick(verdict, "ba")
            mine += ab == ba == own[example.id or ""]
        return {"value": mine / len(source) if source else None}

    return Probe(
        "egocentric",
        {"anonymous": (items, True)},
        score,
        0.25,
        items,
        "among comparisons that include the judge's own output: fraction where it picks its "
        "own output in both orders",
    )


BIASES = ("order", "compassion", "length", "egocentric", "bandwagon", "attention")


def run_bias_suite(
    judge: JudgeLike,
    tasks: Mapping[str, Task],
    examples: Sequence[Example],
    own: Mapping[str, str] | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """All six CoBBLEr biases on the pairwise items; egocentric is "not applicable" without a
    mapping of the judge's own responses. "average" is the mean of the applicable values."""
    if not pairwise_items(tasks, examples):
        return {"applicable": False, "reason": "no pairwise items"}
    probes = [
        order_probe(tasks, examples),
        compassion_probe(tasks, examples),
        length_probe(tasks, examples),
        bandwagon_probe(tasks, examples, seed),
        attention_probe(tasks, examples, seed),
    ]
    results: dict[str, Any] = {}
    for probe in probes:
        results[probe.name] = run_probe(probe, judge, tasks)
    if own:
        probe = egocentric_probe(tasks, examples, own)
        results["egocentric"] = (
            run_probe(probe, judge, tasks)
            if probe.source
            else {
                "bias": "egocentric",
                "applicable": False,
                "value": None,
                "reason": "no item includes the judge's own response",
            }
        )
    else:
        results["egocentric"] = {
            "bias": "egocentric",
            "applicable": False,
            "value": None,
            "random_baseline": 0.25,
            "reason": "needs a mapping of which response is the judge's own generation",
        }
    values = [r["value"] for r in results.values() if r.get("value") is not None]
    return {
        "applicable": True,
        "biases": {name: results[name] for name in BIASES},
        "average": sum(values) / len(values) if values else None,
    }


# --- from compact aggregates ------------------------------------------------------------------


def position_statistics_from_counts(
    counts: Mapping[tuple[str | None, str | None], int],
) -> dict[str, Any]:
    """position_statistics() from counts of (pick in the given order, pick in the swapped
    order) over two-order verdicts; None marks an invalid pick. Adds Wilson CIs."""
    from evaluation.metrics import wilson_interval

    n = sum(counts.values())
    consistent = sum(c for (ab, ba), c in counts.items() if ab is not None and ab == ba)
    first = counts.get(("A", "B"), 0)
    second = counts.get(("B", "A"), 0)
    if not n:
        return position_statistics([])
    return {
        "n": n,
        "consistency": consistent / n,
        "prefer_first": first / n,
        "prefer_second": second / n,
        "delta_bias": abs(first - second) / n,
        "total_bias": (first + second) / n,
        "ci": {
            "consistency": wilson_interval(consistent, n),
            "prefer_first": wilson_interval(first, n),
            "prefer_second": wilson_interval(second, n),
        },
    }


def length_preference_from_counts(
    counts: Mapping[tuple[str | None, str | None, str], int],
) -> dict[str, Any]:
    """CoBBLEr's length bias (as in length_probe) from counts of (pick given order, pick swapped
    order, which response is longer: "A", "B" or "=") over pairwise verdicts: among valid,
    consistent A/B picks of unequal length, |fraction won by the longer response - 0.5|."""
    from evaluation.metrics import wilson_interval

    longer = shorter = 0
    for (ab, ba, longest), c in counts.items():
        if ab is None or ab != ba or ab not in ("A", "B") or longest not in ("A", "B"):
            continue
        if ab == longest:
            longer += c
        else:
            shorter += c
    counted = longer + shorter
    if not counted:
        return {"value": None, "long_bias": None, "short_bias": None, "counted": 0, "ci": None}
    return {
        "value": abs(longer / counted - 0.5),
        "long_bias": longer / counted,
        "short_bias": shorter / counted,
        "counted": counted,
        "ci": wilson_interval(longer, counted),
    }
