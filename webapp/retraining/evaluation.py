"""Evaluate a candidate once on the held-out human labels: metrics, the full report and the
gate all read the same verdicts (no second pass over the held-out items); the lexical
baseline beside it on the same items; and (`candidate_evaluate`, a run's evaluate stage) the
two-sided gate: the project's held-out labels and the foundation's held-out tasks."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

from django.conf import settings

from judging.task_format import Example, Task
from judging.verdict import Verdict
from webapp.autoraters.models import AutoraterVersion
from webapp.autoraters.selectors import version_promoted_for
from webapp.retraining.foundation import foundation_heldout
from webapp.retraining.snapshots import heldout_examples

logger = logging.getLogger(__name__)


def _key(example: Example) -> tuple:
    return (example.task, example.id, example.label, json.dumps(example.context, sort_keys=True))


class CachedJudge:
    """A judge that scores a given list of examples once; later identical calls are free."""

    def __init__(self, judge) -> None:
        self.inner = judge
        self.calls = 0
        self._cache: dict[tuple, list[Verdict]] = {}

    def judge(
        self,
        tasks: Mapping[str, Task],
        examples: Sequence[Example],
        both_orders: bool = True,
        batch_size: int = 32,
    ) -> list[Verdict]:
        key = (both_orders, tuple(_key(e) for e in examples))
        if key not in self._cache:
            self.calls += 1
            self._cache[key] = self.inner.judge(
                tasks, examples, both_orders=both_orders, batch_size=batch_size
            )
        return self._cache[key]

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def scorable(tasks: Mapping[str, Task], examples: Sequence[Example]) -> list[Example]:
    return [e for e in examples if e.label is not None and e.task in tasks]


LEXICAL_BASELINE = "TF-IDF + logistic regression"


def _pick(verdict: Verdict) -> str | None:
    return verdict.label if verdict.valid else None


def lexical_baseline(
    tasks: Mapping[str, Task],
    train_examples: Sequence[Example],
    heldout: Sequence[Example],
    autorater_verdicts: Sequence[Verdict],
    *,
    n_bootstrap: int = 1000,
    seed: int = 0,
) -> dict[str, Any]:
    """The recipe's lexical baseline (evaluation.lexical: TF-IDF + logistic regression per
    task), trained on the run's training snapshot, beside the autorater on the same held-out
    items. "difference" is autorater minus baseline accuracy with a paired bootstrap 95%
    interval; "outcome" is "beats" only if that interval lies above 0 ("loses": below 0,
    "tie": it straddles 0, "no items": nothing to compare on)."""
    from evaluation import metrics as M
    from evaluation.lexical import train_lexical

    started = time.monotonic()
    baseline = train_lexical(tasks, train_examples, seed)
    verdicts = baseline.judge(tasks, heldout, both_orders=True)
    gold = [e.label for e in heldout]
    base = [_pick(v) for v in verdicts]
    auto = [_pick(v) for v in autorater_verdicts]
    counts = {"both_right": 0, "only_baseline": 0, "only_autorater": 0, "both_wrong": 0}
    for g, b, a in zip(gold, base, auto, strict=True):
        key = ("both_right", "only_autorater", "only_baseline", "both_wrong")[
            (b != g) * 1 + (a != g) * 2
        ]
        counts[key] += 1
    difference = M.paired_accuracy_difference(
        counts["both_right"],
        counts["only_baseline"],
        counts["only_autorater"],
        counts["both_wrong"],
        n_resamples=n_bootstrap,
        seed=seed,
    )
    ci = difference["ci"]
    if not heldout or difference["value"] is None:
        outcome = "no items"
    elif ci is not None and ci[0] > 0:
        outcome = "beats"
    elif ci is not None and ci[1] < 0:
        outcome = "loses"
    else:
        outcome = "tie"
    per_task = {}
    for name in sorted({e.task for e in heldout}):
        idx = [i for i, e in enumerate(heldout) if e.task == name]
        per_task[name] = {
            "accuracy": M.accuracy([gold[i] for i in idx], [base[i] for i in idx]),
            "autorater_accuracy": M.accuracy([gold[i] for i in idx], [auto[i] for i in idx]),
            "n": len(idx),
        }
    return {
        "name": LEXICAL_BASELINE,
        "accuracy": M.with_ci(M.accuracy, gold, base, n_resamples=n_bootstrap, seed=seed),
        "autorater_accuracy": M.with_ci(M.accuracy, gold, auto, n_resamples=n_bootstrap, seed=seed),
        "difference": difference,
        "paired_counts": counts,
        "outcome": outcome,
        "beats_baseline": outcome == "beats",
        "per_task": per_task,
        "n": len(heldout),
        "train_examples": sum(1 for e in train_examples if e.label is not None and e.task in tasks),
        "seconds": round(time.monotonic() - started, 2),
    }


def candidate_evaluate(
    run, project_settings, candidate, tasks, train_examples, foundation, start
) -> dict:
    """One pass over the held-out human labels per version: metrics (with the lexical baseline
    trained on the same snapshot beside it), gate and report. The foundation's own autorater
    is measured on the foundation's held-out tasks; a project's on its held-out labels, and
    (no forgetting) on the foundation's held-out tasks beside the live version or its start."""
    from evaluation.evaluate import evaluate
    from judging.inference import Judge
    from webapp.autoraters.gate import gate_decide

    own_foundation = foundation is not None and foundation.project_id == run.project_id
    if own_foundation:
        heldout = foundation_heldout(foundation, settings.EMBER_FOUNDATION_GATE_ITEMS)
    else:
        heldout = heldout_examples(run.project)
    heldout = scorable(tasks, heldout)
    judge = CachedJudge(candidate)
    metrics = evaluate(judge, tasks, heldout)
    try:
        metrics["lexical_baseline"] = lexical_baseline(
            tasks, train_examples, heldout, judge.judge(tasks, heldout)
        )
    except Exception as error:  # noqa: BLE001 - the version is still worth registering
        logger.exception("run %s: the lexical baseline failed", run.pk)
        metrics["lexical_baseline"] = {
            "name": LEXICAL_BASELINE,
            "error": f"{type(error).__name__}: {error}",
        }
    existing = AutoraterVersion.objects.filter(training_run=run).first()
    incumbent = existing.parent if existing else version_promoted_for(run.project_id)
    incumbent_metrics, incumbent_verdicts, live = {}, None, None
    if incumbent is not None:
        live = CachedJudge(Judge.load(incumbent.checkpoint_dir))
        incumbent_metrics = evaluate(live, tasks, heldout)
        incumbent_verdicts = live.judge(tasks, heldout)
    gate = gate_decide(
        heldout,
        judge.judge(tasks, heldout),
        incumbent_verdicts,
        agreement_tolerance=project_settings.gate_agreement_tolerance,
        bias_tolerance=project_settings.gate_bias_tolerance,
    )
    if incumbent is not None:
        gate["live_version"] = incumbent.number
    if foundation is not None and not own_foundation:
        gate = _forgetting(run, project_settings, tasks, foundation, start, judge, live, gate)
        metrics["foundation"] = {
            key: gate["checks"][-1].get(key) for key in ("candidate", "live", "reference", "n")
        }
    return {
        "judge": judge,
        "heldout": heldout,
        "metrics": metrics,
        "incumbent": incumbent,
        "incumbent_metrics": incumbent_metrics,
        "gate": gate,
    }


def _forgetting(run, project_settings, tasks, foundation, start, judge, live, gate) -> dict:
    """The gate's "foundation" check: the candidate vs the live version (else the checkpoint
    the run started from) on the foundation's held-out tasks; without either, the candidate's
    accuracy alone is recorded and the check passes."""
    from judging.inference import Judge
    from webapp.autoraters.gate import forgetting_check, gate_with_check

    examples = scorable(tasks, foundation_heldout(foundation, settings.EMBER_FOUNDATION_GATE_ITEMS))
    reference_name = "live version"
    if live is None and start.checkpoint:
        live = CachedJudge(Judge.load(start.checkpoint))
        reference_name = f"start ({start.kind})"
    candidate = judge.judge(tasks, examples)
    reference = live.judge(tasks, examples) if live is not None else candidate
    check = forgetting_check(
        examples,
        candidate,
        reference,
        tolerance=project_settings.gate_foundation_tolerance,
        reference_name=reference_name if live is not None else "candidate (no reference)",
    )
    return gate_with_check(gate, check)
