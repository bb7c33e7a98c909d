"""The recipes' evaluation: the judge (on fitted texts) and every baseline (on the original
texts) on the same held-out items, per task and pooled over the human pairwise tasks, with
bootstrap CIs, the items where the longer response lost, and paired differences.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from evaluation import metrics as M
from evaluation.baselines import (
    baseline_judges,
    expected_random_accuracy,
    response_length,
)
from judging.task_format import RESPONSE_A, RESPONSE_B, Example, Task, TaskType
from training.recipes.profiles import Profile
from training.recipes.teacher import TEACHER_TASKS


def _pick(verdict) -> str | None:
    return verdict.label if verdict.valid else None


def _longer(example: Example) -> str | None:
    a, b = response_length(example, RESPONSE_A), response_length(example, RESPONSE_B)
    return None if a == b else ("A" if a > b else "B")


def pairwise_scores(
    examples: Sequence[Example], verdicts: Sequence[Any], n_boot: int, seed: int
) -> dict[str, Any]:
    """Accuracy on pairwise items (with CI), on the items where the longer response lost
    (gold is the shorter one) and where it won, their mean ("length-balanced": any length rule
    scores 0.5 on it), and both-order consistency. Lengths are the original texts'."""
    gold = [e.label for e in examples]
    pred = [_pick(v) for v in verdicts]
    longer = [_longer(e) for e in examples]
    lost = [
        i
        for i, e in enumerate(examples)
        if longer[i] and e.label in ("A", "B") and e.label != longer[i]
    ]
    won = [i for i, e in enumerate(examples) if longer[i] and e.label == longer[i]]

    def acc(idx: Sequence[int]) -> dict[str, Any]:
        return M.with_ci(
            M.accuracy,
            [gold[i] for i in idx],
            [pred[i] for i in idx],
            n_resamples=n_boot,
            seed=seed,
        )

    def balanced(g, p, flags):
        lost_hits = [t == q for t, q, f in zip(g, p, flags, strict=True) if f == "lost"]
        won_hits = [t == q for t, q, f in zip(g, p, flags, strict=True) if f == "won"]
        if not lost_hits or not won_hits:
            return None
        return (sum(lost_hits) / len(lost_hits) + sum(won_hits) / len(won_hits)) / 2

    flags = ["lost" if i in set(lost) else "won" for i in lost + won]
    idx = lost + won
    consistent = [v.consistent for v in verdicts if v.consistent is not None]
    return {
        "accuracy": acc(range(len(examples))),
        "longer_lost": acc(lost),
        "longer_won": acc(won),
        "length_balanced": M.with_ci(
            balanced,
            [gold[i] for i in idx],
            [pred[i] for i in idx],
            flags,
            n_resamples=n_boot,
            seed=seed,
        ),
        "consistency": sum(consistent) / len(consistent) if consistent else None,
    }


def _paired_difference(
    gold: Sequence[str], judge: Sequence[Any], other: Sequence[Any], n_boot: int, seed: int
) -> dict[str, Any]:
    """Judge accuracy minus `other`'s on the same items, with a paired bootstrap CI."""
    counts = [0, 0, 0, 0]
    for g, j, o in zip(gold, judge, other, strict=True):
        jr, orr = _pick(j) == g, _pick(o) == g
        counts[0 if jr and orr else 2 if jr else 1 if orr else 3] += 1
    both, only_other, only_judge, neither = counts
    return M.paired_accuracy_difference(
        both, only_other, only_judge, neither, n_resamples=n_boot, seed=seed
    )


def evaluate_recipe(
    judge,
    tasks: Mapping[str, Task],
    heldout: Sequence[Example],
    fitted: Sequence[Example],
    lexical,
    profile: Profile,
    seed: int = 0,
    judge_name: str = "judge",
    explanation_tokens: int = 64,
) -> dict[str, Any]:
    """The judge (on the fitted texts) and every baseline (on the original texts) on the same
    held-out items: per task, pooled over the pairwise tasks, on the length-misleading items.
    Items of the tasks the judge was trained to explain (its metadata "explains") are judged
    with explanations of up to `explanation_tokens` tokens, summarised under "explanations"."""
    from evaluation.bias import run_bias_suite
    from evaluation.report import summarize

    n_boot = profile.bootstrap
    verdicts = {
        judge_name: judge.judge(
            tasks, list(fitted), both_orders=True, max_explanation_tokens=explanation_tokens
        )
    }
    baselines = {**baseline_judges(seed), "tfidf_logreg": lexical}
    for name, baseline in baselines.items():
        verdicts[name] = baseline.judge(tasks, list(heldout), both_orders=True)
    summary = summarize(tasks, list(fitted), verdicts[judge_name], n_boot, seed)
    summary["invalid"] = sum(not v.valid for v in verdicts[judge_name])
    summary["consistency"] = summary["position"]["consistency"]

    names = list(verdicts)
    pair_idx = [i for i, e in enumerate(heldout) if tasks[e.task].type is TaskType.PAIRWISE]
    per_task: dict[str, Any] = {}
    for task_name, idx in sorted(_by_task_index(heldout).items()):
        task = tasks[task_name]
        gold = [heldout[i].label for i in idx]
        entry: dict[str, Any] = {"type": str(task.type), "n": len(idx)}
        for name in names:
            pred = [_pick(verdicts[name][i]) for i in idx]
            entry[name] = {
                "accuracy": M.with_ci(M.accuracy, gold, pred, n_resamples=n_boot, seed=seed),
                "macro_f1": M.macro_f1(gold, pred, list(task.labels)),
            }
            if task.type is TaskType.PAIRWISE:
                entry[name].update(
                    pairwise_scores(
                        [heldout[i] for i in idx], [verdicts[name][i] for i in idx], n_boot, seed
                    )
                )
        if task.type is TaskType.POINTWISE and task_name in summary["per_task"]:
            for key in ("spearman", "pearson", "kappa_quadratic"):
                if key in summary["per_task"][task_name]:
                    entry[judge_name][key] = summary["per_task"][task_name][key]
        per_task[task_name] = entry

    def pooled(idx: Sequence[int], only_human: bool) -> dict[str, Any]:
        if only_human:
            idx = [i for i in idx if _is_human(heldout[i])]
        items = [heldout[i] for i in idx]
        gold = [e.label for e in items]
        out: dict[str, Any] = {
            "n": len(idx),
            "tasks": sorted({e.task for e in items}),
            # The human labels' own position prior: what always-first exploits and a
            # both-order judge cannot (it sees each pair in both orders).
            "gold_labels": {label: gold.count(label) for label in sorted(set(gold))},
        }
        for name in names:
            out[name] = pairwise_scores(items, [verdicts[name][i] for i in idx], n_boot, seed)
        out["judge_minus"] = {
            name: _paired_difference(
                gold,
                [verdicts[judge_name][i] for i in idx],
                [verdicts[name][i] for i in idx],
                n_boot,
                seed,
            )
            for name in names
            if name != judge_name
        }
        lost = [
            k
            for k, e in enumerate(items)
            if _longer(e) and e.label in ("A", "B") and e.label != _longer(e)
        ]
        out["judge_minus_on_longer_lost"] = {
            name: _paired_difference(
                [gold[k] for k in lost],
                [verdicts[judge_name][idx[k]] for k in lost],
                [verdicts[name][idx[k]] for k in lost],
                n_boot,
                seed,
            )
            for name in names
            if name != judge_name
        }
        return out

    all_idx = list(range(len(heldout)))
    human_all = [i for i in all_idx if _is_human(heldout[i])]
    overall = {
        name: M.with_ci(
            M.accuracy,
            [heldout[i].label for i in human_all],
            [_pick(verdicts[name][i]) for i in human_all],
            n_resamples=n_boot,
            seed=seed,
        )
        for name in names
    }
    report: dict[str, Any] = {
        "judge_name": judge_name,
        "n": len(heldout),
        "pooled_pairwise_human": pooled(pair_idx, only_human=True),
        "pooled_pairwise_all": pooled(pair_idx, only_human=False),
        "overall_human_accuracy": overall,
        "random_expected_human": expected_random_accuracy(tasks, [heldout[i] for i in human_all]),
        "per_task": per_task,
        "judge_summary": summary,
    }
    explains = set(judge.metadata.get("explains") or ())
    if explains:
        report["explanations"] = explanation_summary(heldout, verdicts[judge_name], explains)
    if profile.bias:
        pairwise_fitted = [fitted[i] for i in pair_idx if _is_human(heldout[i])]
        report["bias"] = run_bias_suite(judge, tasks, pairwise_fitted, seed=seed)
    return report


def explanation_summary(
    heldout: Sequence[Example], verdicts: Sequence[Any], explains: set[str], samples: int = 3
) -> dict[str, Any]:
    """The held-out items of the explained tasks: on how many the judge generated the rest of
    the EVALUATION block (every valid verdict), how many of those hold an explanation line,
    how many explanations name the verdict's response ("response A" when the verdict is A),
    and a few of them beside the teacher's (rewritten) explanation."""
    idx = [i for i, e in enumerate(heldout) if e.task in explains]
    explained = [i for i in idx if verdicts[i].explanation]

    def names_verdict(i: int) -> bool:
        label = re.escape(verdicts[i].label or "")
        return re.search(rf"\b[Rr]esponse {label}\b", verdicts[i].explanation) is not None

    return {
        "tasks": sorted(explains),
        "n": len(idx),
        "generated": sum(verdicts[i].outputs is not None for i in idx),
        "with_explanation": len(explained),
        "names_verdict": sum(names_verdict(i) for i in explained),
        "samples": [
            {
                "id": heldout[i].id,
                "gold": heldout[i].label,
                "verdict": verdicts[i].label,
                "generated": verdicts[i].explanation,
                "teacher": (heldout[i].outputs or {}).get("explanation"),
            }
            for i in explained[:samples]
        ],
    }


def _by_task_index(examples: Sequence[Example]) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for i, example in enumerate(examples):
        out.setdefault(example.task, []).append(i)
    return out


def _is_human(example: Example) -> bool:
    source = example.provenance.get("source")
    return source not in ("demo", "self-taught") and example.task not in TEACHER_TASKS
