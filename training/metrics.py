"""Agreement metrics for judges and raters, with seeded bootstrap confidence intervals.

Pure numpy (scipy only for ranks). Every function takes plain sequences, so it works for the
autorater's verdicts and for human raters alike. Reference implementations (sklearn, the
`krippendorff` package, scipy.stats) are used in the tests to check these.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any

import numpy as np
from scipy.stats import rankdata

Label = Hashable


# --- bootstrap -------------------------------------------------------------------------------


def bootstrap_ci(
    statistic: Callable[..., float | None],
    *arrays: Sequence[Any],
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float] | None:
    """Percentile bootstrap interval of statistic(*arrays) resampling items (rows) jointly.

    Resamples where the statistic is undefined (None or NaN) are dropped; None if the data are
    empty or every resample is undefined."""
    n = len(arrays[0]) if arrays else 0
    if n == 0 or n_resamples <= 0:
        return None
    rng = np.random.default_rng(seed)
    columns = [list(a) for a in arrays]
    values = []
    for _ in range(n_resamples):
        idx = rng.integers(0, n, size=n)
        value = statistic(*[[col[i] for i in idx] for col in columns])
        if value is not None and np.isfinite(value):
            values.append(float(value))
    if not values:
        return None
    tail = (1.0 - confidence) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)


def with_ci(
    statistic: Callable[..., float | None],
    *arrays: Sequence[Any],
    n_resamples: int = 1000,
    seed: int = 0,
) -> dict[str, Any]:
    """{"value", "ci": [low, high] or None, "n"}."""
    value = statistic(*arrays)
    ci = bootstrap_ci(statistic, *arrays, n_resamples=n_resamples, seed=seed)
    return {
        "value": None if value is None else float(value),
        "ci": None if ci is None else list(ci),
        "n": len(arrays[0]) if arrays else 0,
    }


# --- classification agreement ----------------------------------------------------------------


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


# --- calibration ----------------------------------------------------------------------------


def calibration(
    confidences: Sequence[float], correct: Sequence[bool], n_bins: int = 10
) -> dict[str, Any]:
    """Expected calibration error over equal-width confidence bins, and the bins of a
    reliability diagram. Bin i holds confidences in (i/n, (i+1)/n]; 0 goes to the first bin.
    ECE = sum over bins of |accuracy - mean confidence| * (bin count / total)."""
    conf = np.asarray(confidences, dtype=float)
    hits = np.asarray(correct, dtype=float)
    bins = []
    ece = 0.0
    total = len(conf)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    which = np.clip(np.ceil(conf * n_bins).astype(int) - 1, 0, n_bins - 1) if total else conf
    for b in range(n_bins):
        members = which == b if total else np.zeros(0, dtype=bool)
        count = int(members.sum())
        mean_conf = float(conf[members].mean()) if count else None
        acc = float(hits[members].mean()) if count else None
        if count:
            ece += abs(acc - mean_conf) * count / total
        bins.append(
            {
                "low": float(edges[b]),
                "high": float(edges[b + 1]),
                "count": count,
                "confidence": mean_conf,
                "accuracy": acc,
            }
        )
    return {"ece": float(ece) if total else None, "bins": bins, "n": total}


def expected_calibration_error(confidences, correct, n_bins: int = 10) -> float | None:
    return calibration(confidences, correct, n_bins)["ece"]
