"""The gate's no-forgetting side (webapp/autoraters/gate.py): a candidate that lost accuracy on
the foundation's held-out tasks beyond noise is refused even when it gained on the project's
held-out labels; one within noise passes; the decision names the reference."""

from __future__ import annotations

from judging.task_format import RESPONSE_A, RESPONSE_B, Example
from judging.verdict import Verdict
from webapp.autoraters.gate import forgetting_check, gate_decide, gate_with_check


def _examples(n: int, task: str) -> list[Example]:
    return [
        Example(
            task=task,
            context={"question": f"q{i}", RESPONSE_A: "x", RESPONSE_B: "y"},
            label="A" if i % 2 else "B",
            id=f"{task}-{i}",
        )
        for i in range(n)
    ]


def _verdicts(examples: list[Example], right: int) -> list[Verdict]:
    """Verdicts right on the first `right` examples, wrong on the rest."""
    out = []
    for i, example in enumerate(examples):
        label = example.label if i < right else ("B" if example.label == "A" else "A")
        out.append(
            Verdict(
                example_id=example.id,
                task=example.task,
                label=label,
                probabilities={label: 0.9},
                confidence=0.9,
                order_probabilities={},
                consistent=None,
            )
        )
    return out


def test_gate_refuses_a_candidate_that_forgot_the_foundation():
    project = _examples(60, "team")
    foundation = _examples(200, "public")
    # Better than the live version on the project's labels ...
    gate = gate_decide(
        project,
        _verdicts(project, 57),
        _verdicts(project, 45),
        agreement_tolerance=0.0,
        bias_tolerance=0.05,
    )
    assert gate["passed"]
    # ... but 90% -> 55% on the foundation's held-out tasks: refused.
    check = forgetting_check(
        foundation,
        _verdicts(foundation, 110),
        _verdicts(foundation, 180),
        tolerance=0.02,
        reference_name="live version",
    )
    assert check["candidate"] == 0.55 and check["live"] == 0.9 and check["high"] < -0.02
    decided = gate_with_check(gate, check)
    assert not decided["passed"]
    assert "forgot the foundation" in decided["reason"] and "live version" in decided["reason"]
    assert [c["name"] for c in decided["checks"]] == ["agreement", "position bias", "foundation"]


def test_gate_passes_a_candidate_within_noise_on_the_foundation():
    foundation = _examples(200, "public")
    gate = {"passed": True, "reason": "no live version to compare with", "checks": []}
    check = forgetting_check(
        foundation,
        _verdicts(foundation, 176),
        _verdicts(foundation, 180),
        tolerance=0.02,
        reference_name="start (foundation)",
    )
    assert check["difference"] < 0 <= check["high"] + 0.02
    decided = gate_with_check(gate, check)
    assert decided["passed"] and decided["reason"] == "no live version to compare with"


def test_a_gate_failed_on_the_project_stays_failed():
    foundation = _examples(50, "public")
    gate = {"passed": False, "reason": "worse than the live version on agreement", "checks": []}
    check = forgetting_check(
        foundation,
        _verdicts(foundation, 45),
        _verdicts(foundation, 45),
        tolerance=0.0,
        reference_name="live version",
    )
    decided = gate_with_check(gate, check)
    assert not decided["passed"] and decided["reason"] == gate["reason"]
