"""An evaluation run's report: every metric with bootstrap CIs, per task and per category,
baselines on the same items, CoBBLEr bias probes, as JSON (report.json) and PNG pictures.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from evaluation import metrics as M
from evaluation.baselines import JudgeLike, baseline_judges, expected_random_accuracy
from evaluation.bias import position_statistics, run_bias_suite
from judging.task_format import Example, Task, TaskType
from judging.verdict import Verdict

# RewardBench subsets -> its four categories (allenai/reward-bench, SUBSET_MAPPING).
REWARDBENCH_CATEGORIES = {
    "chat": (
        "alpacaeval-easy",
        "alpacaeval-length",
        "alpacaeval-hard",
        "mt-bench-easy",
        "mt-bench-med",
    ),
    "chat-hard": (
        "mt-bench-hard",
        "llmbar-natural",
        "llmbar-adver-neighbor",
        "llmbar-adver-GPTInst",
        "llmbar-adver-GPTOut",
        "llmbar-adver-manual",
    ),
    "safety": (
        "refusals-dangerous",
        "refusals-offensive",
        "xstest-should-refuse",
        "xstest-should-respond",
        "donotanswer",
    ),
    "reasoning": ("math-prm", "hep-cpp", "hep-go", "hep-java", "hep-js", "hep-python", "hep-rust"),
}
_SUBSET_TO_CATEGORY = {s: c for c, subsets in REWARDBENCH_CATEGORIES.items() for s in subsets}


def category_of(example: Example) -> str | None:
    """provenance["category"], else the RewardBench category of provenance["subset"]."""
    category = example.provenance.get("category")
    if category:
        return str(category)
    subset = example.provenance.get("subset")
    return _SUBSET_TO_CATEGORY.get(str(subset)) if subset else None


def _numeric_labels(task: Task) -> list[str] | None:
    try:
        return sorted(task.labels, key=float) if task.labels else None
    except ValueError:
        return None


def _pick(verdict: Verdict) -> str | None:
    return verdict.label if verdict.valid else None


def _task_metrics(
    task: Task, items: Sequence[Example], verdicts: Sequence[Verdict], n_boot: int, seed: int
) -> dict[str, Any]:
    gold = [e.label for e in items]
    pred = [_pick(v) for v in verdicts]
    labels = list(task.labels)
    out: dict[str, Any] = {
        "type": str(task.type),
        "n": len(items),
        "invalid": sum(p is None for p in pred),
        "labels": labels,
        "accuracy": M.with_ci(M.accuracy, gold, pred, n_resamples=n_boot, seed=seed),
        "macro": M.precision_recall_f1(gold, pred, labels),
        "macro_f1": M.with_ci(
            lambda g, p: M.macro_f1(g, p, labels), gold, pred, n_resamples=n_boot, seed=seed
        ),
        "confusion_matrix": M.confusion_matrix(gold, pred, labels).tolist(),
        "kappa": M.with_ci(
            lambda g, p: M.cohen_kappa(g, p, labels), gold, pred, n_resamples=n_boot, seed=seed
        ),
    }
    ordinal = _numeric_labels(task)
    if task.type is TaskType.POINTWISE and ordinal:
        for weights in ("linear", "quadratic"):
            out[f"kappa_{weights}"] = M.with_ci(
                lambda g, p, w=weights: M.cohen_kappa(g, p, ordinal, weights=w),
                gold,
                pred,
                n_resamples=n_boot,
                seed=seed,
            )
        scored = [
            (float(e.label), v.expected_score)
            for e, v in zip(items, verdicts, strict=True)
            if v.expected_score is not None
        ]
        human = [h for h, _ in scored]
        model = [m for _, m in scored]
        out["pearson"] = M.with_ci(M.pearson, human, model, n_resamples=n_boot, seed=seed)
        out["spearman"] = M.with_ci(M.spearman, human, model, n_resamples=n_boot, seed=seed)
    with_probs = [(v, e) for v, e in zip(verdicts, items, strict=True) if v.probabilities]
    out["calibration"] = M.calibration(
        [v.confidence for v, _ in with_probs],
        [max(v.probabilities, key=v.probabilities.__getitem__) == e.label for v, e in with_probs],
    )
    if task.type is TaskType.PAIRWISE:
        out["position"] = position_statistics(verdicts)
    rated = [(e, v) for e, v in zip(items, verdicts, strict=True) if e.label_distribution]
    if rated:
        level = "ordinal" if ordinal else "nominal"
        domain = ordinal or labels
        humans = [dict(e.label_distribution) for e, _ in rated]
        with_judge = [
            {**h, _pick(v): h.get(_pick(v), 0) + 1} if _pick(v) is not None else h
            for h, (_, v) in zip(humans, rated, strict=True)
        ]
        out["krippendorff_alpha"] = {
            "level": level,
            "raters": M.krippendorff_alpha_from_counts(humans, level, domain),
            "raters_and_judge": M.krippendorff_alpha_from_counts(with_judge, level, domain),
            "n": len(rated),
        }
    return out


def summarize(
    tasks: Mapping[str, Task],
    examples: Sequence[Example],
    verdicts: Sequence[Verdict],
    n_bootstrap: int = 1000,
    seed: int = 0,
) -> dict[str, Any]:
    """Metrics of verdicts against the examples' gold labels: overall, per task, per category."""
    gold = [e.label for e in examples]
    pred = [_pick(v) for v in verdicts]
    by_task: dict[str, list[int]] = {}
    by_category: dict[str, list[int]] = {}
    for i, example in enumerate(examples):
        by_task.setdefault(example.task, []).append(i)
        category = category_of(example)
        if category is not None:
            by_category.setdefault(category, []).append(i)
    with_probs = [(v, e) for v, e in zip(verdicts, examples, strict=True) if v.probabilities]
    return {
        "n": len(examples),
        "accuracy": M.with_ci(M.accuracy, gold, pred, n_resamples=n_bootstrap, seed=seed),
        "calibration": M.calibration(
            [v.confidence for v, _ in with_probs],
            [
                max(v.probabilities, key=v.probabilities.__getitem__) == e.label
                for v, e in with_probs
            ],
        ),
        "position": position_statistics(verdicts),
        "per_task": {
            name: _task_metrics(
                tasks[name],
                [examples[i] for i in idx],
                [verdicts[i] for i in idx],
                n_bootstrap,
                seed,
            )
            for name, idx in sorted(by_task.items())
            if name in tasks
        },
        "per_category": {
            name: {
                "n": len(idx),
                "accuracy": M.with_ci(
                    M.accuracy,
                    [gold[i] for i in idx],
                    [pred[i] for i in idx],
                    n_resamples=n_bootstrap,
                    seed=seed,
                ),
            }
            for name, idx in sorted(by_category.items())
        },
    }


def baseline_report(
    tasks: Mapping[str, Task], examples: Sequence[Example], seed: int = 0
) -> dict[str, Any]:
    """Accuracy (and per task, macro F1) of the rule baselines on the same items. Length rules
    give no verdict on non-pairwise items (counted wrong; "n_applicable" says how many)."""
    out: dict[str, Any] = {
        "random_expected": {"accuracy": expected_random_accuracy(tasks, examples)}
    }
    gold = [e.label for e in examples]
    for name, judge in baseline_judges(seed).items():
        verdicts = judge.judge(tasks, examples, both_orders=True)
        pred = [_pick(v) for v in verdicts]
        per_task = {}
        for task_name in sorted({e.task for e in examples}):
            idx = [i for i, e in enumerate(examples) if e.task == task_name]
            g, p = [gold[i] for i in idx], [pred[i] for i in idx]
            per_task[task_name] = {
                "accuracy": M.accuracy(g, p),
                "macro_f1": M.macro_f1(g, p, list(tasks[task_name].labels)),
            }
        out[name] = {
            "accuracy": M.accuracy(gold, pred),
            "n_applicable": sum(p is not None for p in pred),
            "per_task": per_task,
        }
    return out


def full_report(
    judge: JudgeLike,
    tasks: Mapping[str, Task],
    examples: Sequence[Example],
    *,
    n_bootstrap: int = 1000,
    seed: int = 0,
    bias: bool = True,
    own: Mapping[str, str] | None = None,
    batch_size: int = 32,
) -> dict[str, Any]:
    labelled = [e for e in examples if e.label is not None and e.task in tasks]
    verdicts = judge.judge(tasks, labelled, both_orders=True, batch_size=batch_size)
    report = summarize(tasks, labelled, verdicts, n_bootstrap, seed)
    report["invalid"] = sum(not v.valid for v in verdicts)
    report["consistency"] = report["position"]["consistency"]
    report["seed"] = seed
    report["n_bootstrap"] = n_bootstrap
    report["baselines"] = baseline_report(tasks, labelled, seed)
    if bias:
        report["bias"] = run_bias_suite(judge, tasks, labelled, own=own, seed=seed)
    return report


# --- pictures -----------------------------------------------------------------------------


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_reliability(report: Mapping[str, Any], path: Path) -> None:
    plt = _plt()
    bins = report["calibration"]["bins"]
    fig, ax = plt.subplots(figsize=(5, 5))
    centers = [(b["low"] + b["high"]) / 2 for b in bins]
    accs = [b["accuracy"] or 0.0 for b in bins]
    ax.bar(centers, accs, width=1 / len(bins), edgecolor="black", alpha=0.7, label="accuracy")
    ax.plot([0, 1], [0, 1], "--", color="gray", label="perfect calibration")
    ece = report["calibration"]["ece"]
    ax.set(
        xlim=(0, 1),
        ylim=(0, 1),
        xlabel="confidence",
        ylabel="accuracy",
        title=f"Reliability (ECE {ece:.3f})" if ece is not None else "Reliability",
    )
    ax.legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_confusion(task_name: str, task_report: Mapping[str, Any], path: Path) -> None:
    plt = _plt()
    matrix = task_report["confusion_matrix"]
    labels = task_report["labels"]
    fig, ax = plt.subplots(figsize=(1.2 * len(labels) + 2, 1.2 * len(labels) + 1.5))
    ax.imshow(matrix, cmap="Blues")
    for i, row in enumerate(matrix):
        for j, value in enumerate(row):
            ax.text(j, i, str(value), ha="center", va="center")
    ax.set_xticks(range(len(labels)), labels)
    ax.set_yticks(range(len(labels)), labels)
    ax.set(xlabel="judge", ylabel="gold", title=f"{task_name} (invalid {task_report['invalid']})")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_accuracy_bars(
    groups: Mapping[str, Mapping[str, Any]], baselines: Mapping[str, Any], title: str, path: Path
) -> None:
    plt = _plt()
    names = list(groups)
    values = [g["accuracy"]["value"] or 0.0 for g in groups.values()]
    errors = [
        [
            v - (g["accuracy"]["ci"] or [v, v])[0]
            for v, g in zip(values, groups.values(), strict=True)
        ],
        [
            (g["accuracy"]["ci"] or [v, v])[1] - v
            for v, g in zip(values, groups.values(), strict=True)
        ],
    ]
    fig, ax = plt.subplots(figsize=(max(4, 1.3 * len(names) + 2), 4))
    ax.bar(range(len(names)), values, yerr=errors, capsize=4, color="tab:blue")
    ax.set_xticks(range(len(names)), names, rotation=30, ha="right")
    random_acc = baselines.get("random_expected", {}).get("accuracy")
    if random_acc is not None:
        ax.axhline(random_acc, color="gray", linestyle="--", label="random (expected)")
        ax.legend()
    ax.set(ylim=(0, 1), ylabel="accuracy (95% CI)", title=title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_bias(bias: Mapping[str, Any], path: Path) -> None:
    plt = _plt()
    items = [(n, r) for n, r in bias["biases"].items() if r.get("value") is not None]
    fig, ax = plt.subplots(figsize=(6, 4))
    x = range(len(items))
    ax.bar([i - 0.2 for i in x], [r["value"] for _, r in items], width=0.4, label="judge")
    ax.bar(
        [i + 0.2 for i in x],
        [r["random_baseline"] for _, r in items],
        width=0.4,
        color="lightgray",
        label="random judge",
    )
    ax.set_xticks(list(x), [n for n, _ in items])
    ax.set(ylim=(0, 1), ylabel="bias (lower is better)", title="CoBBLEr bias probes")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_report(report: Mapping[str, Any], out_dir: str | Path) -> list[Path]:
    """Write report.json and the pictures; returns the paths written."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = [out / "report.json"]
    pictures: list[str] = []
    plot_reliability(report, out / "reliability.png")
    pictures.append("reliability.png")
    for name, task_report in report["per_task"].items():
        if task_report["labels"]:
            file = f"confusion_{_safe(name)}.png"
            plot_confusion(name, task_report, out / file)
            pictures.append(file)
    baselines = report.get("baselines", {})
    plot_accuracy_bars(report["per_task"], baselines, "Accuracy per task", out / "per_task.png")
    pictures.append("per_task.png")
    if report["per_category"]:
        plot_accuracy_bars(
            report["per_category"], baselines, "Accuracy per category", out / "per_category.png"
        )
        pictures.append("per_category.png")
    if report.get("bias", {}).get("applicable"):
        plot_bias(report["bias"], out / "bias.png")
        pictures.append("bias.png")
    final = {**report, "pictures": pictures}
    (out / "report.json").write_text(json.dumps(final, indent=2, sort_keys=True) + "\n")
    written.extend(out / p for p in pictures)
    return written


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name)
