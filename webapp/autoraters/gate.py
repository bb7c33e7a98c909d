"""The promotion gate: may a candidate version replace the live one?

Both versions judge the same held-out human labels in the same run. Agreement: the candidate
fails only if its accuracy is lower than the live version's beyond noise, i.e. the upper end of
the paired bootstrap 95% interval of (candidate - live) per-item correctness is below
-tolerance. Bias: the candidate's position bias (JudgeLM total bias: the share of pairwise
items whose verdict follows the position, not the content) may not exceed the live version's
by more than the tolerance. No forgetting (a project trained on the foundation): the
candidate's accuracy on the foundation's held-out tasks may not be lower than the reference's
(the live version, or the checkpoint the run started from) beyond noise, the same paired
bootstrap rule with the project's foundation tolerance.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from evaluation.bias import position_statistics
from judging.task_format import Example
from judging.verdict import Verdict


def _correct(examples: Sequence[Example], verdicts: Sequence[Verdict]) -> np.ndarray:
    return np.asarray(
        [v.valid and v.label == e.label for e, v in zip(examples, verdicts, strict=True)],
        dtype=np.float64,
    )


def paired_difference(
    candidate: np.ndarray, incumbent: np.ndarray, n_bootstrap: int = 2000, seed: int = 0
) -> dict[str, float]:
    """Mean of (candidate - incumbent) per item with a percentile bootstrap 95% interval."""
    diff = candidate - incumbent
    n = len(diff)
    if n == 0:
        return {"difference": 0.0, "low": 0.0, "high": 0.0, "n": 0}
    rng = np.random.default_rng(seed)
    means = diff[rng.integers(0, n, size=(n_bootstrap, n))].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return {"difference": float(diff.mean()), "low": float(low), "high": float(high), "n": n}


def gate_decide(
    examples: Sequence[Example],
    candidate: Sequence[Verdict],
    incumbent: Sequence[Verdict] | None,
    *,
    agreement_tolerance: float,
    bias_tolerance: float,
) -> dict[str, Any]:
    """{"passed": bool, "reason": str, "checks": [...]} (JSON-able)."""
    if incumbent is None:
        return {"passed": True, "reason": "no live version to compare with", "checks": []}
    if not examples:
        return {"passed": False, "reason": "no held-out human labels to compare on", "checks": []}
    cand_hits, inc_hits = _correct(examples, candidate), _correct(examples, incumbent)
    paired = paired_difference(cand_hits, inc_hits)
    agreement = {
        "name": "agreement",
        "candidate": float(cand_hits.mean()),
        "live": float(inc_hits.mean()),
        "tolerance": agreement_tolerance,
        **paired,
        "passed": paired["high"] >= -agreement_tolerance,
    }
    cand_bias = position_statistics(candidate)["total_bias"]
    inc_bias = position_statistics(incumbent)["total_bias"]
    bias = {"name": "position bias", "candidate": cand_bias, "live": inc_bias}
    bias["tolerance"] = bias_tolerance
    if cand_bias is None or inc_bias is None:
        bias["passed"] = True
        bias["note"] = "no pairwise items judged in both orders"
    else:
        bias["passed"] = cand_bias <= inc_bias + bias_tolerance
    checks = [agreement, bias]
    failed = [check["name"] for check in checks if not check["passed"]]
    reason = "worse than the live version on " + ", ".join(failed) if failed else "passed"
    return {"passed": not failed, "reason": reason, "checks": checks}


def forgetting_check(
    examples: Sequence[Example],
    candidate: Sequence[Verdict],
    reference: Sequence[Verdict],
    *,
    tolerance: float,
    reference_name: str,
) -> dict[str, Any]:
    """The "foundation" check: accuracy on the foundation's held-out tasks, candidate vs the
    reference, failing when the interval's upper end is below -tolerance."""
    cand_hits, ref_hits = _correct(examples, candidate), _correct(examples, reference)
    paired = paired_difference(cand_hits, ref_hits)
    return {
        "name": "foundation",
        "candidate": float(cand_hits.mean()) if len(cand_hits) else None,
        "live": float(ref_hits.mean()) if len(ref_hits) else None,
        "reference": reference_name,
        "tolerance": tolerance,
        **paired,
        "passed": paired["high"] >= -tolerance,
    }


def gate_with_check(gate: dict[str, Any], check: dict[str, Any]) -> dict[str, Any]:
    """The gate with the foundation check added: it passes only if both passed."""
    reasons = [] if gate.get("passed") else [gate.get("reason") or "failed"]
    if not check["passed"]:
        reasons.append(
            f"forgot the foundation: worse than the {check['reference']} on its held-out tasks"
        )
    passed = not reasons
    reason = (gate.get("reason") or "passed") if passed else "; ".join(reasons)
    return {**gate, "passed": passed, "reason": reason, "checks": [*gate.get("checks", []), check]}
