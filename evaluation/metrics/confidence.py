"""Calibration of a judge's confidence: reliability-diagram bins and the expected calibration
error (ECE)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


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
