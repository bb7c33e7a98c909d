"""Best-of-N reranking by a round-robin tournament (FLAMe, arXiv 2407.10817 section 6.2,
with our tie rules).

Every pair of candidates is judged in both orders. A win counts 1 only when both orders pick
the same candidate; an inconsistent pair or a tie gives 0.5 to each. Candidates are ranked by
total score, ties broken by summed P(choice) over their games (the judge's probability that the
candidate is better, averaged over the two orders), then by index.
"""

from __future__ import annotations

import dataclasses
import itertools
import random
from collections.abc import Mapping, Sequence
from typing import Any

from evaluation.baselines import JudgeLike
from evaluation.bias import order_pick
from judging.task_format import RESPONSE_A, RESPONSE_B, Example, Task


@dataclasses.dataclass
class Tournament:
    scores: list[float]
    probability_sums: list[float]
    ranking: list[int]
    games: list[dict[str, Any]]

    @property
    def best(self) -> int:
        return self.ranking[0]


@dataclasses.dataclass
class BestOfNGroup:
    """N candidate responses to one prompt; `best` holds the indices of the best ones."""

    task: str
    context: dict[str, Any]  # the non-response context fields (e.g. the question)
    candidates: list[str]
    best: set[int]
    id: str | None = None


def round_robin(
    judge: JudgeLike,
    task: Task,
    context: Mapping[str, Any],
    candidates: Sequence[str],
    id_prefix: str = "rr",
) -> Tournament:
    n = len(candidates)
    pairs = list(itertools.combinations(range(n), 2))
    examples = [
        Example(
            task=task.name,
            context={**context, RESPONSE_A: candidates[i], RESPONSE_B: candidates[j]},
            id=f"{id_prefix}:{i}-{j}",
        )
        for i, j in pairs
    ]
    verdicts = judge.judge({task.name: task}, examples, both_orders=True) if examples else []
    scores = [0.0] * n
    prob_sums = [0.0] * n
    games = []
    for (i, j), verdict in zip(pairs, verdicts, strict=True):
        ab, ba = order_pick(verdict, "ab"), order_pick(verdict, "ba")
        if ab == ba == "A":
            scores[i] += 1.0
            outcome = "A"
        elif ab == ba == "B":
            scores[j] += 1.0
            outcome = "B"
        else:  # inconsistent, tie or invalid
            scores[i] += 0.5
            scores[j] += 0.5
            outcome = "half"
        prob_sums[i] += verdict.probabilities.get("A", 0.0)
        prob_sums[j] += verdict.probabilities.get("B", 0.0)
        games.append({"a": i, "b": j, "outcome": outcome, "consistent": verdict.consistent})
    ranking = sorted(range(n), key=lambda k: (-scores[k], -prob_sums[k], k))
    return Tournament(scores, prob_sums, ranking, games)


def evaluate_best_of_n(
    judge: JudgeLike,
    tasks: Mapping[str, Task],
    groups: Sequence[BestOfNGroup],
    seed: int = 0,
) -> dict[str, Any]:
    """Accuracy of the tournament winner being one of the known best candidates, against a
    random pick (expected: mean |best| / N; also one seeded draw)."""
    rng = random.Random(seed)
    hits = 0
    expected_random = 0.0
    drawn_random = 0
    per_group = []
    for index, group in enumerate(groups):
        result = round_robin(
            judge,
            tasks[group.task],
            group.context,
            group.candidates,
            id_prefix=group.id or f"group{index}",
        )
        hit = result.best in group.best
        hits += hit
        expected_random += len(group.best) / len(group.candidates)
        drawn_random += rng.randrange(len(group.candidates)) in group.best
        per_group.append(
            {"id": group.id, "picked": result.best, "hit": hit, "scores": result.scores}
        )
    n = len(groups)
    return {
        "n": n,
        "accuracy": hits / n if n else None,
        "random_expected": expected_random / n if n else None,
        "random_draw": drawn_random / n if n else None,
        "groups": per_group,
    }
