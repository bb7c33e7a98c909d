"""Metrics from compact aggregates (contingency tables, value-count patterns, calibration bins).

Dashboards aggregate millions of labels in SQL into small tables and hand those to these
functions. Each gives the same number as its row-level counterpart (agreement.py,
confidence.py) on the same data; bootstrap intervals resample items by drawing the table's
cells from a multinomial with the observed cell frequencies (the same as resampling the rows the
table counts, jointly).
"""

from __future__ import annotations

import functools
import math
import statistics
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np


def _kappa_weights(k: int, weights: str | None) -> np.ndarray:
    i, j = np.indices((k, k))
    if weights is None:
        return (i != j).astype(float)
    if weights == "linear":
        return np.abs(i - j).astype(float)
    if weights == "quadratic":
        return ((i - j) ** 2).astype(float)
    raise ValueError(f"weights must be None, 'linear' or 'quadratic', not {weights!r}")


def _kappa_batch(tables: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Cohen's kappa of each (k x k) table in a (B, k, k) stack; NaN where undefined."""
    totals = tables.sum(axis=(1, 2))
    safe = np.where(totals == 0, 1, totals)
    expected = np.einsum("bi,bj->bij", tables.sum(axis=2), tables.sum(axis=1)) / safe[:, None, None]
    denominator = (w * expected).sum(axis=(1, 2))
    with np.errstate(divide="ignore", invalid="ignore"):
        kappa = 1 - (w * tables).sum(axis=(1, 2)) / denominator
    return np.where((totals == 0) | (denominator == 0), np.nan, kappa)


def _multinomial_tables(table: np.ndarray, n_resamples: int, seed: int) -> np.ndarray:
    n = int(table.sum())
    rng = np.random.default_rng(seed)
    draws = rng.multinomial(n, table.ravel() / n, size=n_resamples)
    return draws.reshape((n_resamples, *table.shape)).astype(float)


def _percentile_ci(values: np.ndarray, confidence: float) -> list[float] | None:
    values = values[np.isfinite(values)]
    if not len(values):
        return None
    tail = (1.0 - confidence) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return [float(low), float(high)]


def kappa_from_confusion(
    table: Sequence[Sequence[float]],
    weights: str | None = None,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, Any]:
    """Cohen's kappa of a confusion (contingency) table, rows rater 1 and columns rater 2 over
    the same label order, with a bootstrap CI: {"value", "ci", "n"}. Equals cohen_kappa() on the
    rows the table counts."""
    matrix = np.asarray(table, dtype=float)
    n = int(matrix.sum())
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        raise ValueError(f"a confusion table must be square, not {matrix.shape}")
    k = matrix.shape[0]
    if n == 0 or k < 2:
        return {"value": None, "ci": None, "n": n}
    w = _kappa_weights(k, weights)
    value = float(_kappa_batch(matrix[None], w)[0])
    ci = None
    if n_resamples > 0:
        ci = _percentile_ci(
            _kappa_batch(_multinomial_tables(matrix, n_resamples, seed), w), confidence
        )
    return {"value": None if np.isnan(value) else value, "ci": ci, "n": n}


@functools.lru_cache(maxsize=8)
def _z(confidence: float) -> float:
    """The two-sided normal quantile for a confidence level (1.96 for 0.95)."""
    return statistics.NormalDist().inv_cdf(1 - (1 - confidence) / 2)


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> list[float] | None:
    """Wilson score interval of a proportion (better than the normal one near 0 and 1)."""
    if n <= 0:
        return None
    z = _z(confidence)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return [float(max(0.0, centre - half)), float(min(1.0, centre + half))]


def proportion(successes: int, n: int, confidence: float = 0.95) -> dict[str, Any]:
    """{"value": successes / n, "ci": Wilson interval, "n"} (value None when n is 0)."""
    return {
        "value": successes / n if n else None,
        "ci": wilson_interval(successes, n, confidence),
        "n": int(n),
    }


def accuracy_from_confusion(
    table: Sequence[Sequence[float]], uncounted: int = 0, confidence: float = 0.95
) -> dict[str, Any]:
    """Accuracy (trace / total) of a confusion table with a Wilson CI; `uncounted` rows (e.g.
    invalid verdicts, outside the table) count as wrong, as in accuracy()."""
    matrix = np.asarray(table, dtype=float)
    n = int(matrix.sum()) + int(uncounted)
    return proportion(int(np.trace(matrix)) if matrix.size else 0, n, confidence)


def _pattern_matrix(
    patterns: Sequence[tuple[Mapping[Any, int], int]], domain: Sequence[Any]
) -> tuple[np.ndarray, np.ndarray]:
    index = {v: i for i, v in enumerate(domain)}
    counts = np.zeros((len(patterns), len(domain)))
    weights = np.zeros(len(patterns))
    for row, (unit, multiplicity) in enumerate(patterns):
        weights[row] = multiplicity
        for value, count in unit.items():
            if value in index:
                counts[row, index[value]] += count
    return counts, weights


def _alpha_from_weighted(
    counts: np.ndarray, weights: np.ndarray, level: str, domain: Sequence[Any]
) -> np.ndarray:
    """Alpha for each weight vector in `weights` (B, P) over the patterns in `counts` (P, k)."""
    k = counts.shape[1]
    m = counts.sum(axis=1)
    pairable = m >= 2
    c, w = counts[pairable], weights[:, pairable]
    per_pattern = (c[:, :, None] * c[:, None, :] - np.einsum("pi,ij->pij", c, np.eye(k))) / (
        m[pairable] - 1
    )[:, None, None]
    coincidence = np.einsum("bp,pij->bij", w, per_pattern)
    n_c = coincidence.sum(axis=2)
    n = n_c.sum(axis=1)
    if level == "nominal":
        delta = np.broadcast_to(1.0 - np.eye(k), (len(w), k, k))
    elif level == "ordinal":
        cumulative = np.cumsum(n_c, axis=1)
        delta = np.zeros((len(w), k, k))
        for a in range(k):
            for e in range(k):
                low, high = min(a, e), max(a, e)
                between = cumulative[:, high] - (cumulative[:, low - 1] if low > 0 else 0.0)
                delta[:, a, e] = (between - (n_c[:, a] + n_c[:, e]) / 2) ** 2
    elif level == "interval":
        values = np.asarray([float(v) for v in domain])
        delta = np.broadcast_to((values[:, None] - values[None, :]) ** 2, (len(w), k, k))
    else:
        raise ValueError(f"level must be nominal, ordinal or interval, not {level!r}")
    observed = (coincidence * delta).sum(axis=(1, 2))
    expected = np.einsum("bi,bj,bij->b", n_c, n_c, delta) / np.where(n > 1, n - 1, 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        alpha = 1 - observed / expected
    return np.where((n <= 1) | (expected == 0), np.nan, alpha)


def krippendorff_alpha_from_patterns(
    patterns: Sequence[tuple[Mapping[Any, int], int]],
    level: str = "nominal",
    value_domain: Sequence[Any] | None = None,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, Any]:
    """Krippendorff's alpha from value-count patterns: (value -> raters who gave it, how many
    units had exactly that pattern). The same as krippendorff_alpha_from_counts() over the
    units spelled out, with a bootstrap CI over units: {"value", "ci", "n" (pairable units)}."""
    if value_domain is None:
        seen = {v for unit, _ in patterns for v, c in unit.items() if c > 0}
        value_domain = sorted(seen, key=lambda v: (str(type(v)), v))
    domain = list(value_domain)
    counts, weights = _pattern_matrix(patterns, domain)
    pairable = counts.sum(axis=1) >= 2
    n_units = int(weights[pairable].sum())
    if n_units == 0 or len(domain) < 1:
        return {"value": None, "ci": None, "n": n_units}
    value = float(_alpha_from_weighted(counts, weights[None], level, domain)[0])
    ci = None
    if n_resamples > 0:
        rng = np.random.default_rng(seed)
        p = np.where(pairable, weights, 0) / n_units
        draws = rng.multinomial(n_units, p, size=n_resamples).astype(float)
        ci = _percentile_ci(_alpha_from_weighted(counts, draws, level, domain), confidence)
    return {"value": None if np.isnan(value) else value, "ci": ci, "n": n_units}


def pair_table_from_patterns(
    patterns: Sequence[tuple[Mapping[Any, int], int]], labels: Sequence[Any]
) -> np.ndarray:
    """Symmetric table of every unordered pair of ratings on the same unit, counted once in
    each direction (so its diagonal share is the pairwise percent agreement)."""
    counts, weights = _pattern_matrix(patterns, list(labels))
    k = counts.shape[1]
    per_pattern = counts[:, :, None] * counts[:, None, :] - np.einsum(
        "pi,ij->pij", counts, np.eye(k)
    )
    return np.einsum("p,pij->ij", weights, per_pattern)


def calibration_from_bins(bins: Sequence[Mapping[str, float]], n_bins: int = 10) -> dict[str, Any]:
    """calibration() from per-bin sums: each {"bin": index, "count", "confidence_sum",
    "correct"} (several entries for a bin are added). Bin i holds confidences in
    (i/n, (i+1)/n], as in calibration(); ECE weights |accuracy - mean confidence| by count."""
    count = np.zeros(n_bins)
    conf_sum = np.zeros(n_bins)
    correct = np.zeros(n_bins)
    for entry in bins:
        b = int(entry["bin"])
        if not 0 <= b < n_bins:
            raise ValueError(f"bin {b} is outside 0..{n_bins - 1}")
        count[b] += entry["count"]
        conf_sum[b] += entry["confidence_sum"]
        correct[b] += entry["correct"]
    total = count.sum()
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    out, ece = [], 0.0
    for b in range(n_bins):
        c = int(count[b])
        mean_conf = float(conf_sum[b] / c) if c else None
        acc = float(correct[b] / c) if c else None
        if c:
            ece += abs(acc - mean_conf) * c / total
        out.append(
            {
                "low": float(edges[b]),
                "high": float(edges[b + 1]),
                "count": c,
                "confidence": mean_conf,
                "accuracy": acc,
                "accuracy_ci": wilson_interval(int(correct[b]), c),
            }
        )
    return {"ece": float(ece) if total else None, "bins": out, "n": int(total)}


def paired_accuracy_difference(
    both_right: int,
    only_a: int,
    only_b: int,
    both_wrong: int,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, Any]:
    """Accuracy of B minus accuracy of A on the same items, from the paired 2x2 counts, with a
    bootstrap CI over items: {"value", "ci", "n"} (positive: B is better)."""
    table = np.asarray([[both_right, only_a], [only_b, both_wrong]], dtype=float)
    n = int(table.sum())
    if n == 0:
        return {"value": None, "ci": None, "n": 0}
    value = (only_b - only_a) / n
    ci = None
    if n_resamples > 0:
        draws = _multinomial_tables(table, n_resamples, seed)
        ci = _percentile_ci((draws[:, 1, 0] - draws[:, 0, 1]) / n, confidence)
    return {"value": float(value), "ci": ci, "n": n}


def kappa_analytic_from_confusion(
    table: Sequence[Sequence[float]], confidence: float = 0.95
) -> dict[str, Any]:
    """Unweighted Cohen's kappa of a confusion table with the large-sample interval of Fleiss,
    Cohen and Everitt (1969): kappa +- z * SE. Microseconds, for dashboards that show dozens
    of kappas (kappa_from_confusion bootstraps)."""
    matrix = np.asarray(table, dtype=float)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        raise ValueError(f"a confusion table must be square, not {matrix.shape}")
    n = float(matrix.sum())
    if n == 0 or matrix.shape[0] < 2:
        return {"value": None, "ci": None, "n": int(n)}
    p = matrix / n
    rows, cols = p.sum(axis=1), p.sum(axis=0)
    pe = float(rows @ cols)
    if pe >= 1:
        return {"value": None, "ci": None, "n": int(n)}
    kappa = (float(np.trace(p)) - pe) / (1 - pe)
    diagonal = np.diag(p) * (1 - (rows + cols) * (1 - kappa)) ** 2
    off = p * (cols[:, None] + rows[None, :]) ** 2
    np.fill_diagonal(off, 0.0)
    variance = (diagonal.sum() + (1 - kappa) ** 2 * off.sum() - (kappa - pe * (1 - kappa)) ** 2) / (
        n * (1 - pe) ** 2
    )
    half = _z(confidence) * math.sqrt(max(variance, 0.0))
    return {"value": kappa, "ci": [kappa - half, kappa + half], "n": int(n)}
