"""Reads for insights: SQL aggregates (values/annotate/Sum) over the rollup tables, handed as
compact tables to the evaluation library (evaluation.metrics / evaluation.bias), which computes
every number and interval. One query per aggregate, whatever the number of labels."""

from __future__ import annotations

import dataclasses
import statistics
from collections import defaultdict
from typing import Any

import numpy as np
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db.models import Exists, F, OuterRef, Q, Sum

from evaluation import bias as B
from evaluation import metrics as M
from webapp.annotation.models import Annotation, Item, Project, TaskDefinition
from webapp.autoraters.models import AutoraterVersion, ModelJudgment
from webapp.insights import models as m

N_BOOT = 1000
# Breakdowns (one kappa per rater, category, version: dozens per page) use the analytic
# large-sample interval instead of the bootstrap.
N_BOOT_GROUP = 0
PAGE = 50
TAGS = [value for value, _ in Annotation.DisagreementTag.choices]


@dataclasses.dataclass(frozen=True)
class Filters:
    task: int | None = None
    rater: int | None = None
    category: str | None = None
    version: int | None = None
    tag: str | None = None
    humans_only: bool = False

    @classmethod
    def parse(cls, query) -> Filters:
        """From request.GET; a malformed value is a ValidationError naming the parameter."""

        def number(name: str) -> int | None:
            raw = query.get(name, "").strip()
            if not raw:
                return None
            if not raw.isdigit():
                raise ValidationError(f"{name} must be a number, not {raw[:40]!r}.")
            return int(raw)

        tag = query.get("tag", "").strip() or None
        if tag is not None and tag not in TAGS:
            raise ValidationError(f"tag must be one of {', '.join(TAGS)}.")
        version = query.get("version", "").strip()
        return cls(
            task=number("task"),
            rater=number("rater"),
            category=query.get("category", "").strip() or None,
            version=None if version == "humans" else number("version"),
            tag=tag,
            humans_only=version == "humans",
        )

    def apply(self, qs, *, rater: bool = True, version: bool = False):
        if self.task is not None:
            qs = qs.filter(task_id=self.task)
        if self.category is not None:
            qs = qs.filter(category=self.category)
        if rater and self.rater is not None:
            qs = qs.filter(annotator_id=self.rater)
        if version and self.version is not None:
            qs = qs.filter(version_id=self.version)
        return qs

    def query(self, **override) -> dict[str, Any]:
        values = {
            "task": self.task,
            "rater": self.rater,
            "category": self.category,
            "version": "humans" if self.humans_only else self.version,
            "tag": self.tag,
            **override,
        }
        return {k: v for k, v in values.items() if v is not None}


# --- choices shown in the filter bar ---------------------------------------------------------


def filter_choices(project: Project) -> dict[str, Any]:
    users = get_user_model()
    rater_ids = m.RaterCell.objects.filter(project=project).values("annotator_id").distinct()
    return {
        "tasks": list(TaskDefinition.objects.filter(project=project).order_by("name")),
        "versions": list(AutoraterVersion.objects.filter(project=project).order_by("-number")),
        "raters": list(users.objects.filter(pk__in=rater_ids).order_by("username")),
        "categories": sorted(
            c
            for c in m.PatternCell.objects.filter(project=project)
            .values_list("category", flat=True)
            .distinct()
            if c
        ),
        "tags": Annotation.DisagreementTag.choices,
    }


def default_version(versions: list[AutoraterVersion], chosen: int | None):
    if chosen is not None:
        for version in versions:
            if version.pk == chosen:
                return version
        raise ValidationError("No such autorater version in this project.")
    promoted = [v for v in versions if v.status == AutoraterVersion.Status.PROMOTED]
    return promoted[0] if promoted else (versions[0] if versions else None)


# --- helpers ---------------------------------------------------------------------------------


def _labels_of(task: TaskDefinition) -> list[str]:
    return [str(label) for label in task.labels]


def _numeric(labels: list[str]) -> list[str] | None:
    try:
        return sorted(labels, key=float) if labels else None
    except ValueError:
        return None


def _table(cells, labels: list[str], row: str, col: str) -> tuple[np.ndarray, int]:
    """(k x k table over labels, count of rows whose label is outside it, e.g. invalid)."""
    index = {label: i for i, label in enumerate(labels)}
    table = np.zeros((len(labels), len(labels)), dtype=np.int64)
    outside = 0
    for cell in cells:
        i, j = index.get(cell[row]), index.get(cell[col])
        if i is None or j is None:
            outside += cell["n"]
        else:
            table[i, j] += cell["n"]
    return table, outside


def _agreement(
    cells, labels: list[str], row: str, col: str, n_boot: int = N_BOOT
) -> dict[str, Any]:
    table, outside = _table(cells, labels, row, col)
    return {
        "labels": labels,
        "matrix": table.tolist(),
        "outside": outside,
        "accuracy": M.accuracy_from_confusion(table, uncounted=outside),
        "kappa": M.kappa_from_confusion(table, n_resamples=n_boot)
        if n_boot
        else M.kappa_analytic_from_confusion(table),
    }


def _group_agreement(rows, key: str, row: str, col: str) -> dict[Any, dict[str, Any]]:
    """Per value of `key`: agreement rate and kappa over the union of the labels seen."""
    groups: dict[Any, list[dict]] = defaultdict(list)
    for cell in rows:
        groups[cell[key]].append(cell)
    out = {}
    for value, cells in groups.items():
        labels = sorted(({c[row] for c in cells} | {c[col] for c in cells}) - {""})
        result = _agreement(cells, labels, row, col, N_BOOT_GROUP)
        out[value] = {
            "n": int(result["accuracy"]["n"]),
            "agreement": result["accuracy"],
            "kappa": result["kappa"],
        }
    return out


# --- the dashboard ---------------------------------------------------------------------------


def dashboard(project: Project, filters: Filters, choices: dict[str, Any]) -> dict[str, Any]:
    """Every number of the dashboard, from the library, for the filters given."""
    tasks = [t for t in choices["tasks"] if filters.task in (None, t.pk)]
    version = default_version(choices["versions"], filters.version)
    hm = m.HumanModelCell.objects.filter(project=project)
    hm_version = filters.apply(hm.filter(version=version))
    per_task_hm = defaultdict(list)
    for cell in hm_version.values("task_id", "human_label", "model_label").annotate(n=Sum("n")):
        per_task_hm[cell["task_id"]].append(cell)
    patterns = defaultdict(list)
    for cell in (
        filters.apply(m.PatternCell.objects.filter(project=project), rater=False)
        .values("task_id", "pattern")
        .annotate(n=Sum("n"))
    ):
        patterns[cell["task_id"]].append((cell["pattern"], cell["n"]))
    pairs = filters.apply(m.HumanPairCell.objects.filter(project=project))
    if filters.rater is None:
        pairs = pairs.filter(first=True)  # each pair once: earlier label vs later label
    per_task_pairs = defaultdict(list)
    for cell in pairs.values("task_id", "own_label", "peer_label").annotate(n=Sum("n")):
        per_task_pairs[cell["task_id"]].append(cell)
    per_task = []
    for task in tasks:
        labels = _labels_of(task)
        ordinal = _numeric(labels) if task.type == TaskDefinition.Type.POINTWISE else None
        per_task.append(
            {
                "task": task,
                "human_model": _agreement(
                    per_task_hm[task.pk], labels, "human_label", "model_label"
                )
                if version
                else None,
                "human_human": _agreement(
                    per_task_pairs[task.pk], labels, "own_label", "peer_label"
                ),
                "alpha": M.krippendorff_alpha_from_patterns(
                    patterns[task.pk],
                    "ordinal" if ordinal else "nominal",
                    ordinal or labels,
                    n_resamples=N_BOOT,
                ),
            }
        )
    breakdown = {
        "rater": _group_agreement(
            filters.apply(hm.filter(version=version), rater=False)
            .values("annotator_id", "human_label", "model_label")
            .annotate(n=Sum("n")),
            "annotator_id",
            "human_label",
            "model_label",
        ),
        "category": _group_agreement(
            filters.apply(hm.filter(version=version))
            .values("category", "human_label", "model_label")
            .annotate(n=Sum("n")),
            "category",
            "human_label",
            "model_label",
        ),
        "version": _group_agreement(
            filters.apply(hm)
            .values("version_id", "human_label", "model_label")
            .annotate(n=Sum("n")),
            "version_id",
            "human_label",
            "model_label",
        ),
    }
    verdicts = filters.apply(
        m.VerdictCell.objects.filter(project=project, version=version), rater=False
    )
    calibration = M.calibration_from_bins(
        [
            {
                "bin": b["conf_bin"],
                "count": b["count"],
                "confidence_sum": b["confidence_sum"],
                "correct": b["correct"] or 0,
            }
            for b in verdicts.filter(conf_bin__isnull=False)
            .exclude(reference="")
            .values("conf_bin")
            .annotate(
                count=Sum("n"),
                confidence_sum=Sum("confidence_sum"),
                correct=Sum("n", filter=Q(model_label=F("reference"))),
            )
        ]
    )
    order_counts: dict = defaultdict(int)
    length_counts: dict = defaultdict(int)
    for cell in (
        verdicts.filter(two_orders=True).values("ab_pick", "ba_pick", "longer").annotate(n=Sum("n"))
    ):
        order_counts[(cell["ab_pick"], cell["ba_pick"])] += cell["n"]
        length_counts[(cell["ab_pick"], cell["ba_pick"], cell["longer"])] += cell["n"]
    by_version_reference = {
        row["version_id"]: M.proportion(row["right"] or 0, row["n"])
        for row in filters.apply(m.VerdictCell.objects.filter(project=project), rater=False)
        .exclude(reference="")
        .values("version_id")
        .annotate(right=Sum("n", filter=Q(model_label=F("reference"))), n=Sum("n"))
    }
    return {
        "version": version,
        "per_task": per_task,
        "breakdown": breakdown,
        "calibration": calibration,
        "position": B.position_statistics_from_counts(order_counts),
        "length": B.length_preference_from_counts(length_counts),
        "reference_accuracy": by_version_reference,
        "trend": trend(project, filters),
    }


def trend(project: Project, filters: Filters) -> dict[str, list[dict[str, Any]]]:
    """Daily agreement: human pairs ("humans") and human vs each version ("v<number>")."""
    rows = (
        filters.apply(m.TrendCell.objects.filter(project=project), rater=False)
        .values("day", "version__number")
        .annotate(n=Sum("n"), agree=Sum("agree"))
        .order_by("day")
    )
    series: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        name = "humans" if row["version__number"] is None else f"v{row['version__number']}"
        series[name].append({"day": row["day"], **M.proportion(row["agree"], row["n"])})
    return dict(sorted(series.items()))


# --- rater quality ---------------------------------------------------------------------------


def _robust_z(values: dict[Any, float]) -> dict[Any, float]:
    """(x - median) / (1.4826 * MAD) over the raters; 0 when they do not vary."""
    if len(values) < 3:
        return {k: 0.0 for k in values}
    median = statistics.median(values.values())
    mad = statistics.median(abs(v - median) for v in values.values()) * 1.4826
    if mad == 0:
        return {k: 0.0 for k in values}
    return {k: (v - median) / mad for k, v in values.items()}


FLAG_Z = 3.0


def rater_quality(
    project: Project, filters: Filters, choices: dict[str, Any], rollup: m.Rollup
) -> list[dict[str, Any]]:
    version = default_version(choices["versions"], filters.version)
    base = filters.apply(m.RaterCell.objects.filter(project=project), rater=False)
    labels = {
        r["annotator_id"]: r
        for r in base.values("annotator_id").annotate(
            n=Sum("n"),
            gold_n=Sum("gold_n"),
            gold_right=Sum("gold_right"),
            seconds_sum=Sum("seconds_sum"),
            seconds_n=Sum("seconds_n"),
        )
    }
    peers = {
        r["annotator_id"]: r
        for r in filters.apply(m.HumanPairCell.objects.filter(project=project), rater=False)
        .values("annotator_id")
        .annotate(agree=Sum("n", filter=Q(own_label=F("peer_label"))), n=Sum("n"))
    }
    model = {
        r["annotator_id"]: r
        for r in filters.apply(
            m.HumanModelCell.objects.filter(project=project, version=version), rater=False
        )
        .values("annotator_id")
        .annotate(agree=Sum("n", filter=Q(human_label=F("model_label"))), n=Sum("n"))
    }
    names = {u.pk: u.username for u in choices["raters"]}
    medians = rollup.extra.get("median_seconds", {})
    rows = []
    for annotator, r in labels.items():
        p, a = peers.get(annotator, {}), model.get(annotator, {})
        rows.append(
            {
                "annotator_id": annotator,
                "rater": names.get(annotator, str(annotator)),
                "labels": r["n"],
                "gold": M.proportion(r["gold_right"], r["gold_n"]),
                "peers": M.proportion(p.get("agree") or 0, p.get("n") or 0),
                "autorater": M.proportion(a.get("agree") or 0, a.get("n") or 0),
                "mean_seconds": r["seconds_sum"] / r["seconds_n"] if r["seconds_n"] else None,
                "median_seconds": medians.get(str(annotator)),
                "flags": [],
            }
        )
    for key, caption in (
        ("peers", "agreement with peers"),
        ("gold", "accuracy on gold items"),
        ("autorater", "agreement with the autorater"),
    ):
        values = {
            i: row[key]["value"] for i, row in enumerate(rows) if row[key]["value"] is not None
        }
        for i, z in _robust_z(values).items():
            if z < -FLAG_Z:
                rows[i]["flags"].append(f"low {caption} ({rows[i][key]['value']:.0%})")
    speeds = {i: row["median_seconds"] for i, row in enumerate(rows) if row["median_seconds"]}
    for i, z in _robust_z({i: float(np.log(s)) for i, s in speeds.items()}).items():
        if abs(z) > FLAG_Z:
            rows[i]["flags"].append(
                f"{'fast' if z < 0 else 'slow'} ({rows[i]['median_seconds']:.1f} s median)"
            )
    return sorted(rows, key=lambda row: (-len(row["flags"]), row["rater"]))


# --- disagreements ---------------------------------------------------------------------------


def disagreements(
    project: Project, filters: Filters, version, offset: int, limit: int = PAGE
) -> list[m.DisagreementRow]:
    """Items where the version and a human (or the humans among themselves, humans_only)
    disagree, the autorater's most confident verdicts first."""
    rows = filters.apply(m.DisagreementRow.objects.filter(project=project), rater=False)
    if filters.humans_only or version is None:
        rows = rows.filter(version__isnull=True)
    else:
        rows = rows.filter(version=version)
    if filters.rater is not None:
        rows = rows.filter(
            Exists(
                Annotation.objects.filter(
                    item_id=OuterRef("item_id"), annotator_id=filters.rater, is_current=True
                )
            )
        )
    if filters.tag is not None:
        rows = rows.filter(
            Exists(
                Annotation.objects.filter(
                    item_id=OuterRef("item_id"), disagreement_tag=filters.tag, is_current=True
                )
            )
        )
    return list(
        rows.select_related("item", "task")
        .defer("item__flame_prompt")
        .order_by(F("confidence").desc(nulls_last=True), "id")[offset : offset + limit + 1]
    )


def item_detail(project: Project, item_id: int) -> dict[str, Any] | None:
    item = Item.objects.select_related("task").filter(project=project, pk=item_id).first()
    if item is None:
        return None
    labels = list(
        Annotation.objects.filter(item=item)
        .select_related("annotator")
        .order_by("annotator__username", "revision")
    )
    judgments = list(
        ModelJudgment.objects.filter(item=item)
        .select_related("version")
        .order_by("-version__number")
    )
    verdicts = []
    for judgment in judgments:
        orders = judgment.order_probabilities or {}
        verdicts.append(
            {
                "judgment": judgment,
                "orders": [
                    {
                        "order": name,
                        "caption": caption,
                        "probabilities": sorted(orders[name].items()),
                        "pick": max(orders[name], key=orders[name].__getitem__)
                        if orders[name]
                        else None,
                    }
                    for name, caption in (("ab", "as given (A first)"), ("ba", "swapped (B first)"))
                    if name in orders
                ],
                "explanation": getattr(judgment, "explanation", "") or "",
            }
        )
    return {
        "item": item,
        "current": [a for a in labels if a.is_current],
        "history": [a for a in labels if not a.is_current],
        "verdicts": verdicts,
    }


# --- version comparison ----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class DifferRow:
    """A held-out item where versions a and b differ, in the page's a/b orientation."""

    item_id: int
    item: Item
    task: TaskDefinition
    reference: str
    label: str
    confidence: float | None
    label_b: str
    conf_b: float | None


def versions_differ(
    project: Project, a, b, filters: Filters, offset: int, limit: int = PAGE
) -> list[DifferRow]:
    """One page (plus one row, to tell whether there is a next) of the held-out items where
    the two versions' verdicts differ, the more confident verdicts first (an index scan over
    the rollup's pair rows)."""
    lo, hi = (a, b) if a.pk <= b.pk else (b, a)
    rows = (
        filters.apply(
            m.VersionDiffRow.objects.filter(project=project, version_lo=lo, version_hi=hi),
            rater=False,
        )
        .select_related("item", "task")
        .only(
            "item__external_id",
            "task__name",
            "reference",
            "label_lo",
            "confidence_lo",
            "label_hi",
            "confidence_hi",
        )
        .order_by(F("top_confidence").desc(nulls_last=True), "item_id")[offset : offset + limit + 1]
    )
    out = []
    for row in rows:
        mine = (row.label_lo, row.confidence_lo, row.label_hi, row.confidence_hi)
        if lo is not a:
            mine = mine[2:] + mine[:2]
        out.append(DifferRow(row.item_id, row.item, row.task, row.reference, *mine))
    return out


def version_comparison(
    project: Project, a, b, filters: Filters, offset: int, limit: int = PAGE
) -> dict[str, Any]:
    """Two versions on the same held-out items: accuracy of each against the reference label,
    the paired difference, their agreement, and the items where they differ."""
    cells = list(
        filters.apply(
            m.VersionPairCell.objects.filter(project=project, version_a=a, version_b=b),
            rater=False,
        )
        .values("reference", "label_a", "label_b", "valid_a", "valid_b")
        .annotate(n=Sum("n"))
    )
    counts = {"both_right": 0, "only_a": 0, "only_b": 0, "both_wrong": 0}
    scored = 0
    labels = sorted(({c["label_a"] for c in cells} | {c["label_b"] for c in cells}) - {""})
    for cell in cells:
        if not cell["reference"]:
            continue
        scored += cell["n"]
        right_a = cell["valid_a"] and cell["label_a"] == cell["reference"]
        right_b = cell["valid_b"] and cell["label_b"] == cell["reference"]
        key = {
            (True, True): "both_right",
            (True, False): "only_a",
            (False, True): "only_b",
            (False, False): "both_wrong",
        }[(bool(right_a), bool(right_b))]
        counts[key] += cell["n"]
    return {
        "n": sum(c["n"] for c in cells),
        "scored": scored,
        "accuracy_a": M.proportion(counts["both_right"] + counts["only_a"], scored),
        "accuracy_b": M.proportion(counts["both_right"] + counts["only_b"], scored),
        "difference": M.paired_accuracy_difference(**counts, n_resamples=N_BOOT),
        "paired": counts,
        "agreement": _agreement(cells, labels, "label_a", "label_b"),
        "differ": versions_differ(project, a, b, filters, offset, limit),
    }
