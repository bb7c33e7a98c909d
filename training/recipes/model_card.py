"""The model card: a Markdown summary of a recipe run, its held-out numbers beside the
baselines, naming the profile and the git commit that produced it."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]


def git_commit(root: str | Path = REPO_ROOT) -> str:
    """`git rev-parse HEAD` of the repository at `root`, or "unknown" (no git, not a
    repository, or git failing): a run never fails for want of it."""
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    commit = done.stdout.strip()
    return commit if done.returncode == 0 and commit else "unknown"


def _fmt(metric: Mapping[str, Any] | None) -> str:
    if not metric or metric.get("value") is None:
        return "n/a"
    ci = metric.get("ci")
    if ci:
        return f"{metric['value']:.3f} [{ci[0]:.3f}, {ci[1]:.3f}]"
    return f"{metric['value']:.3f}"


BASELINE_NAMES = ("longer_wins", "shorter_wins", "tfidf_logreg", "always_first", "random")


def model_card(report: Mapping[str, Any]) -> str:
    """A Markdown summary of a recipe run: its held-out numbers beside the baselines."""
    judge = report["judge_name"]
    lines = [
        f"### Recipe `{report['recipe']}` (profile `{report['profile']}`), "
        f"held-out split `{report['eval_split']}`",
        "",
        f"Profile: `{report['profile']}`; commit: `{report.get('commit', 'unknown')}`.",
        "",
        f"Trained {report['train']['steps']} steps in {report['timings']['train_seconds']:.0f} s; "
        f"whole run {report['timings']['total_seconds']:.0f} s.",
        "",
        "Pooled human pairwise held-out items "
        f"(n = {report['pooled_pairwise_human']['n']}; "
        f"{', '.join(report['pooled_pairwise_human']['tasks'])}), accuracy with 95% bootstrap CI:",
        "",
        "| judge | accuracy | longer response lost | longer won | length-balanced | "
        "both-order consistency |",
        "|---|---|---|---|---|---|",
    ]
    pooled = report["pooled_pairwise_human"]
    for name in (judge, *BASELINE_NAMES):
        row = pooled[name]
        cons = row["consistency"]
        lines.append(
            f"| {name} | {_fmt(row['accuracy'])} | {_fmt(row['longer_lost'])} | "
            f"{_fmt(row['longer_won'])} | {_fmt(row['length_balanced'])} | "
            f"{'n/a' if cons is None else f'{cons:.3f}'} |"
        )
    gold = pooled["gold_labels"]
    if gold:
        lines += [
            "",
            "Held-out human labels: "
            + ", ".join(f"{label} {count}" for label, count in gold.items())
            + " (A is the first-shown response; the judge averages both orders of each pair,"
            " so a first-slot preference of the labels helps only always-first).",
        ]
    lines += [
        "",
        "Judge minus baseline (paired bootstrap, 95% CI), pooled / longer-lost items:",
        "",
    ]
    for name in BASELINE_NAMES:
        lines.append(
            f"- {name}: {_fmt(pooled['judge_minus'][name])} / "
            f"{_fmt(pooled['judge_minus_on_longer_lost'][name])}"
        )
    lines += [
        "",
        "Per task (accuracy, 95% CI; pointwise tasks also Spearman of the expected score):",
        "",
        f"| task | n | {judge} | longer_wins | shorter_wins | tfidf_logreg |",
        "|---|---|---|---|---|---|",
    ]
    for name, entry in report["per_task"].items():
        extra = ""
        if "spearman" in entry[judge]:
            extra = f"; Spearman {_fmt(entry[judge]['spearman'])}"
        cells = [
            _fmt(entry[b]["accuracy"])
            if entry["type"] == "pairwise" or b == "tfidf_logreg"
            else "n/a"
            for b in ("longer_wins", "shorter_wins", "tfidf_logreg")
        ]
        lines.append(
            f"| {name} | {entry['n']} | {_fmt(entry[judge]['accuracy'])}{extra} | "
            + " | ".join(cells)
            + " |"
        )
    overall = report["overall_human_accuracy"]
    lines += [
        "",
        f"All human held-out items (n = {overall[judge]['n']}): {judge} {_fmt(overall[judge])}, "
        f"tfidf_logreg {_fmt(overall['tfidf_logreg'])}, expected random "
        f"{report['random_expected_human']:.3f}.",
    ]
    lines += _explanation_lines(report.get("explanations"))
    bias = report.get("bias", {}).get("biases", {})
    if bias:
        lines += ["", "Bias probes (CoBBLEr; lower is better, random judge in brackets):", ""]
        for name, row in bias.items():
            if row.get("value") is not None:
                lines.append(f"- {name}: {row['value']:.3f} ({row.get('random_baseline')})")
    return "\n".join(lines) + "\n"


def _explanation_lines(explanations: Mapping[str, Any] | None) -> list[str]:
    """The teacher's rationales: how many examples trained on one, how the held-out ones were
    explained, and a generated explanation beside the teacher's."""
    if not explanations:
        return []
    train = explanations["train"]
    lines = [
        "",
        f"Explanations: {train['examples']} training examples of `{train['task']}` carry the "
        "teacher judge's rationale after the verdict (its model letters rewritten to the "
        f"positions A / B), trained with evaluation_block = {train['evaluation_block']}; "
        f"{explanations['unrewritable']} of the drawn rationales could not be rewritten "
        f"unambiguously and {train['too_long_for_window']} training ones were too long for the "
        "window: those train the verdict alone.",
    ]
    if explanations["n"]:
        lines += [
            "",
            f"Held-out items of {', '.join(explanations['tasks'])} (n = {explanations['n']}): "
            f"the judge went on after {explanations['generated']} valid verdicts, "
            f"{explanations['with_explanation']} times with an explanation line, "
            f"{explanations['names_verdict']} of them naming the response of the verdict.",
        ]
    for sample in explanations["samples"][:1]:
        lines += [
            "",
            f"- generated ({sample['verdict']}; teacher {sample['gold']}): {sample['generated']}",
            f"- teacher: {sample['teacher']}",
        ]
    return lines
