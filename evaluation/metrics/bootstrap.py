"""Seeded percentile bootstrap confidence intervals over items (rows resampled jointly)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np


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
