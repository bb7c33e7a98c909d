"""The AlpacaEval judges' rationales rewritten to the positions A / B the recipe shows: the
phrasings the chain-of-thought judges use (short snippets in their style), case-sensitive
letters, the swap, and the rationales left verdict-only because they cannot be rewritten
unambiguously."""

from __future__ import annotations

import hashlib
import re

import pytest

from training.recipes.data import (
    DEFAULT_DATA,
)
from training.recipes.rationales import letter_positions, rewrite_rationale
from training.recipes.teacher import (
    TEACHER_COT_TASK,
    TEACHER_TASK,
    teacher_examples,
)

# As explanation_labels {"M": "output_1", "m": "output_2"} gives them, unswapped.
M_IS_A = {"M": "A", "m": "B"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Model 'M' provided punch lines that are more engaging. Model 'm' also provided "
            "relevant lines.",
            "Response A provided punch lines that are more engaging. Response B also provided "
            "relevant lines.",
        ),
        (
            "Model M's output was slightly more detailed. Model m's output was also good.",
            "Response A's output was slightly more detailed. Response B's output was also good.",
        ),
        (
            "Both models 'm' and 'M' provided comprehensive answers, but the depth of model m "
            "stood out.",
            "Both responses B and A provided comprehensive answers, but the depth of response B "
            "stood out.",
        ),
        (
            "It lacked the structure of 'm'. Therefore, 'm' is ranked higher than 'M'.",
            "It lacked the structure of response B. Therefore, response B is ranked higher than "
            "response A.",
        ),
        (
            "the clarity found in 'm's response, and Model 'M''s list was shorter.",
            "the clarity found in response B's response, and Response A's list was shorter.",
        ),
        (
            "The longer answer (M) missed the point.",
            "The longer answer (response A) missed the point.",
        ),
        ("'M' failed to mention the date.", "Response A failed to mention the date."),
        ("(M's answer was longer.)", "(response A's answer was longer.)"),
        ('Model "m" is ranked first.', "Response B is ranked first."),
        (
            "A more detailed answer came from Model M.",
            "A more detailed answer came from Response A.",
        ),
        ("I'm sure Model m is right.", "I'm sure Response B is right."),
        ("Both models were accurate.", "Both models were accurate."),
    ],
)
def test_references_are_rewritten_to_positions(text, expected):
    assert rewrite_rationale(text, M_IS_A) == expected


def test_case_matters_and_the_swap_exchanges_the_positions():
    text = "Model 'm' gave the correct date; Model 'M' did not."
    labels = {"M": "output_2", "m": "output_1"}
    shown = letter_positions(labels, swapped=False)
    assert shown == {"M": "B", "m": "A"}
    assert rewrite_rationale(text, shown) == "Response A gave the correct date; Response B did not."
    swapped = letter_positions(labels, swapped=True)
    assert swapped == {"M": "A", "m": "B"}
    assert rewrite_rationale(text, swapped) == (
        "Response B gave the correct date; Response A did not."
    )


@pytest.mark.parametrize(
    "text",
    [
        "The first model 'm' was more detailed. The second model 'M' was shorter.",  # judge's order
        "Model 'm' lacked the depth of the first response.",
        "Model 'm' gave the distance to Sagittarius A* correctly.",  # a standalone A
        "Model 'm' copied files from server A to server B.",
        "Model 'm' said (AB)^T = B^T A^T.",
        "Model 'M' rounded it to 5 m, not 6 m.",  # a bare letter: a unit
        "Model X was better than Model 'M'.",  # a letter the mapping does not name
        "Model 'M is shorter.",  # an unmatched quote
        "The latter was more concise than Model M.",
    ],
)
def test_ambiguous_rationales_are_refused(text):
    assert rewrite_rationale(text, M_IS_A) is None


@pytest.mark.parametrize(
    "labels",
    [
        None,
        {"M": "output_1"},
        {"M": "output_1", "m": "output_1"},
        {"M": "output_1", "mm": "output_2"},
        {"M": "output_1", "m": "output_3"},
    ],
)
def test_mappings_that_do_not_name_both_outputs_are_refused(labels):
    assert letter_positions(labels, swapped=False) is None


@pytest.mark.skipif(not DEFAULT_DATA.is_dir(), reason="shared/data is not present")
def test_teacher_rationales_name_the_verdict_they_explain_after_the_swap():
    """On the real chain-of-thought records (they start near record 31,000): where the
    rewritten rationale states who is ranked higher, that is the example's label, swapped
    examples included."""
    tasks, examples, info = teacher_examples(
        DEFAULT_DATA, limit=10, seed=0, scan=34_000, explanations=True, explained_limit=400
    )
    cot = [e for e in examples if e.task == TEACHER_COT_TASK]
    assert TEACHER_COT_TASK in tasks and tasks[TEACHER_COT_TASK].output_fields == (
        "choice",
        "explanation",
    )
    assert info["with_explanation"] == len(cot) > 300
    assert info["with_explanation"] + info["explanation_unrewritable"] == 400
    assert sum(e.task == TEACHER_TASK for e in examples) == 10 + info["explanation_unrewritable"]
    stated = {True: 0, False: 0}  # swapped or not -> rationales stating the winner
    for example in cot:
        text = example.outputs["explanation"]
        assert not re.search(r"\b[Mm]odels? '?[Mm]\b", text)
        winner = re.search(r"[Rr]esponse ([AB]) is ranked (?:higher|first)", text)
        if winner:
            assert winner.group(1) == example.label, text
            flip = hashlib.sha256(f"0:{example.id}".encode()).digest()[0] & 1
            stated[bool(flip)] += 1
    assert stated[True] >= 10 and stated[False] >= 10
