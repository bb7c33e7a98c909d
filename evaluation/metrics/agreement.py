"""Agreement between a judge and gold labels, or between raters, from row-level data:
accuracy, confusion matrix, macro precision / recall / F1, Cohen's kappa (nominal, linear,
quadratic), Krippendorff's alpha (nominal, ordinal, interval), Pearson and Spearman."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import numpy as np
from scipy.stats import rankdata

Label = Hashable


def accuracy(y_true: Sequence[Label], y_pred: Sequence[Label | None]) -> float | None:
    """Fraction of exact matches; a None prediction (invalid verdict) counts as wrong."""
    if not y_true:
        return None
    return sum(t == p for t, p in zip(y_true, y_pred, strict=True)) / len(y_true)


def _labels(y_true: Sequence[Label], y_pred: Sequence[Label | None]) -> list[Label]:
    present = {v for v in list(y_true) + list(y_pred) if v is not None}
    return sorted(present, key=lambda v: (str(type(v)), v))


def confusion_matrix(
    y_true: Sequence[Label], y_pred: Sequence[Label | None], labels: Sequence[Label] | None = None
) -> np.ndarray:
    """Rows: true label, columns: predicted label (in `labels` order). Pairs whose true or
    predicted label is not in `labels` (e.g. an invalid None prediction) are not counted."""
    labels = list(labels) if labels is not None else _labels(y_true, y_pred)
    index = {label: i for i, label in enumerate(labels)}
    matrix = np.zeros((len(labels), len(labels)), dtype=np.int64)
    for t, p in zip(y_true, y_pred, strict=True):
        if t in index and p in index:
            matrix[index[t], index[p]] += 1
    return matrix


def precision_recall_f1(
    y_true: Sequence[Label], y_pred: Sequence[Label | None], labels: Sequence[Label] | None = None
) -> dict[str, Any]:
    """Macro-averaged precision, recall and F1 over `labels` (default: every label seen), with
    0 for a class with no predictions or no true items (sklearn's zero_division=0). Invalid
    (None) predictions lower recall."""
    labels = list(labels) if labels is not None else _labels(y_true, y_pred)
    precisions, recalls, f1s, per_label = [], [], [], {}
    for label in labels:
        tp = sum(t == label and p == label for t, p in zip(y_true, y_pred, strict=True))
        predicted = sum(p == label for p in y_pred)
        actual = sum(t == label for t in y_true)
        precision = tp / predicted if predicted else 0.0
        recall = tp / actual if actual else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        precisions.append(precision)
        recalls.append(recall)
        f1s.append(f1)
        per_label[str(label)] = {"precision": precision, "recall": recall, "f1": f1, "n": actual}
    mean = (lambda xs: float(np.mean(xs))) if labels else (lambda xs: None)
    return {
        "precision": mean(precisions),
        "recall": mean(recalls),
        "f1": mean(f1s),
        "per_label": per_label,
    }


def macro_f1(y_true, y_pred, labels=None) -> float | None:
    return precision_recall_f1(y_true, y_pred, labels)["f1"]


def cohen_kappa(
    rater1: Sequence[Label],
    rater2: Sequence[Label | None],
    labels: Sequence[Label] | None = None,
    weights: str | None = None,
) -> float | None:
    """Cohen's kappa; weights None (nominal), "linear" or "quadratic" (ordinal: the disagreement
    weight grows with the distance between the labels' positions in `labels`, so pass the
    scale in order). Pairs with a label outside `labels` are dropped. None if undefined."""
    labels = list(labels) if labels is not None else _labels(rater1, rater2)
    observed = confusion_matrix(rater1, rater2, labels).astype(float)
    total = observed.sum()
    k = len(labels)
    if total == 0 or k < 2:
        return None
    expected = np.outer(observed.sum(axis=1), observed.sum(axis=0)) / total
    i, j = np.indices((k, k))
    if weights is None:
        w = (i != j).astype(float)
    elif weights == "linear":
        w = np.abs(i - j).astype(float)
    elif weights == "quadratic":
        w = ((i - j) ** 2).astype(float)
    else:
        raise ValueError(f"weights must be None, 'linear' or 'quadratic', not {weights!r}")
    denominator = (w * expected).sum()
    if denominator == 0:
        return None
    return float(1 - (w * observed).sum() / denominator)


# --- Krippendorff's alpha ----------------------------------------------------------------------


def krippendorff_alpha_from_counts(
    units: Sequence[Mapping[Any, int]],
    level: str = "nominal",
    value_domain: Sequence[Any] | None = None,
) -> float | None:
    """Krippendorff's alpha from per-unit value counts (value -> how many raters gave it).

    level: "nominal", "ordinal" (ranks over `value_domain`, default the sorted values seen) or
    "interval" (numeric values, squared difference). Units with fewer than two values are not
    pairable and are ignored. None if undefined (no pairable units or no variation)."""
    if value_domain is None:
        seen = {v for unit in units for v, c in unit.items() if c > 0}
        value_domain = sorted(seen, key=lambda v: (str(type(v)), v))
    domain = list(value_domain)
    index = {v: i for i, v in enumerate(domain)}
    k = len(domain)
    coincidence = np.zeros((k, k))
    for unit in units:
        counts = np.zeros(k)
        for value, count in unit.items():
            if value in index:
                counts[index[value]] += count
        m = counts.sum()
        if m < 2:
            continue
        coincidence += (np.outer(counts, counts) - np.diag(counts)) / (m - 1)
    n_c = coincidence.sum(axis=1)
    n = n_c.sum()
    if n <= 1:
        return None
    if level == "nominal":
        delta = 1.0 - np.eye(k)
    elif level == "ordinal":
        cumulative = np.cumsum(n_c)
        delta = np.zeros((k, k))
        for c in range(k):
            for e in range(k):
                low, high = min(c, e), max(c, e)
                between = cumulative[high] - (cumulative[low - 1] if low > 0 else 0.0)
                delta[c, e] = (between - (n_c[c] + n_c[e]) / 2) ** 2
    elif level == "interval":
        values = np.asarray([float(v) for v in domain])
        delta = (values[:, None] - values[None, :]) ** 2
    else:
        raise ValueError(f"level must be nominal, ordinal or interval, not {level!r}")
    disagreement_observed = (coincidence * delta).sum()
    disagreement_expected = (np.outer(n_c, n_c) * delta).sum() / (n - 1)
    if disagreement_expected == 0:
        return None
    return float(1 - disagreement_observed / disagreement_expected)


def krippendorff_alpha(
    reliability_data: Sequence[Sequence[Any]],
    level: str = "nominal",
    value_domain: Sequence[Any] | None = None,
) -> float | None:
    """Alpha from a raters x units table; None or NaN marks a missing rating."""
    n_units = len(reliability_data[0]) if reliability_data else 0
    units: list[dict[Any, int]] = []
    for u in range(n_units):
        unit: dict[Any, int] = {}
        for row in reliability_data:
            value = row[u]
            if value is None or (isinstance(value, float) and np.isnan(value)):
                continue
            unit[value] = unit.get(value, 0) + 1
        units.append(unit)
    return krippendorff_alpha_from_counts(units, level, value_domain)


# --- correlation ----------------------------------------------------------------------------


def pearson(x: Sequence[float], y: Sequence[float]) -> float | None:
    xa, ya = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if len(xa) < 2:
        return None
    xa, ya = xa - xa.mean(), ya - ya.mean()
    denominator = np.sqrt((xa**2).sum() * (ya**2).sum())
    if denominator == 0:
        return None
    return float(np.clip((xa * ya).sum() / denominator, -1.0, 1.0))


def spearman(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Pearson correlation of the average ranks (ties share their mean rank)."""
    if len(x) < 2:
        return None
    return pearson(rankdata(x), rankdata(y))
