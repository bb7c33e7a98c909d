"""The AlpacaEval judges' rationales, rewritten to name the positions the recipe shows.

A chain-of-thought judge of alpaca-eval-judgments saw the two answers as models "M" and "m", in
random order, and its rationale names them so ("Model 'M' provided ...", "model m's answer",
"Both models 'm' and 'M' ..."); `explanation_labels` maps each letter to output_1 / output_2,
which the converter shows as response A / B, and which the recipe's deterministic swap may
exchange. `rewrite_rationale` replaces each whole-word reference to a mapped letter by the
position it has in the example ("Model 'M'" -> "Response A", "model m's" -> "response B's",
"Models 'm' and 'M'" -> "Responses B and A", a bare "'m'" -> "response B"), case-sensitively
("M" and "m" are different models), and gives None where it cannot do so unambiguously:
a letter reference it cannot read (a bare unquoted letter, an unmatched quote), a letter the
mapping does not name ("Model X"), the judge's own order ("the first model"), or a standalone
"A" / "B" already in the text that a reader would take for a position ("server B",
"Sagittarius A*").
"""

from __future__ import annotations

import re
from collections.abc import Mapping

OUTPUT_POSITIONS = {"output_1": "A", "output_2": "B"}
_OPEN = {"'": "'", '"': '"', "\u2018": "\u2019", "\u201c": "\u201d", "(": ")"}
_APOSTROPHES = ("'", "\u2019")
_MODEL_WORD = re.compile(r"\b(models?|Models?|MODELS?)\s+$")
_JOINER = re.compile(r"\s*(?:,\s*and|,|and|or|&|vs\.?|versus)\s*")
_SENTENCE_START = re.compile(r"(?:^|[.!?:]\s*)$")
# The judge's own order, which is random and unrelated to A / B.
_ORDINAL = re.compile(
    r"(?i)\bthe\s+(?:former|latter)\b|\b(?:first|second|1st|2nd)\s+"
    r"(?:models?|responses?|outputs?|answers?|ones?|assistants?)\b"
)
_OTHER_LETTER = re.compile(r"(?i:\bmodels?)\s+[('\"\u2018\u201c]?([A-Za-z])(?![A-Za-z0-9])")


def letter_positions(labels: object, swapped: bool) -> dict[str, str] | None:
    """`explanation_labels` ({"M": "output_2", "m": "output_1"}) as letter -> position ("A" /
    "B") in an example whose responses are swapped or not; None unless it maps two distinct
    one-letter names to output_1 and output_2."""
    if not isinstance(labels, Mapping) or len(labels) != 2:
        return None
    if sorted(labels.values()) != sorted(OUTPUT_POSITIONS):
        return None
    if not all(isinstance(k, str) and len(k) == 1 and k.isalpha() for k in labels):
        return None
    flip = {"A": "B", "B": "A"} if swapped else {"A": "A", "B": "B"}
    return {letter: flip[OUTPUT_POSITIONS[output]] for letter, output in labels.items()}


def _word(model_word: str) -> str:
    """ "Model" -> "Response", "models" -> "responses" (the case of the judge's word)."""
    plural = model_word.lower().endswith("s")
    word = "responses" if plural else "response"
    if model_word.isupper():
        return word.upper()
    return word.capitalize() if model_word[0].isupper() else word


def _clashes(text: str, letters: Mapping[str, str]) -> bool:
    """A position letter already standing alone in the text, other than a sentence's article
    "A" ("A more detailed ...")."""
    for match in re.finditer(r"(?<![A-Za-z0-9])[AB](?![A-Za-z0-9])", text):
        if match.group() in letters:
            continue
        article = (
            match.group() == "A"
            and _SENTENCE_START.search(text[: match.start()])
            and re.match(r" [a-z]", text[match.end() : match.end() + 2])
        )
        if not article:
            return True
    return False


def rewrite_rationale(text: str, letters: Mapping[str, str]) -> str | None:
    """`text` with every whole-word reference to a letter of `letters` (letter -> "A" / "B")
    rewritten to its position; None where that cannot be done unambiguously (module doc)."""
    if _ORDINAL.search(text) or _clashes(text, letters):
        return None
    for match in _OTHER_LETTER.finditer(text):
        if match.group(1) not in letters:
            return None
    pattern = re.compile(
        "(?<![A-Za-z0-9])(" + "|".join(map(re.escape, letters)) + ")(?![A-Za-z0-9])"
    )
    out: list[str] = []
    done = 0  # text[:done] is written to out
    run_end = -1  # where the last reference of a "Models 'm' and 'M'" list ended
    for match in pattern.finditer(text):
        start, end = match.span()
        before, after = text[start - 1 : start], text[end : end + 1]
        if before in _APOSTROPHES and start >= 2 and text[start - 2].isalpha():
            continue  # a contraction: I'm
        possessive = after in _APOSTROPHES and re.match(r"s(?![A-Za-z0-9])", text[end + 1 :])
        opener = before if before in _OPEN else ""
        if possessive and opener == "(":
            opener = ""  # "(M's answer)": the bracket stays, the possessive is rewritten
        if opener and not possessive:
            if after != _OPEN[opener] and not (opener == "'" and after == "\u2019"):
                return None  # an unmatched quote or bracket
            end += 1
        ref_start = start - len(opener)
        position = letters[match.group()]
        model_word = _MODEL_WORD.search(text, 0, ref_start)
        if run_end >= 0 and _JOINER.fullmatch(text, run_end, ref_start):
            replacement = position  # the rest of a list after "Models": the letter alone
        elif model_word:
            word = model_word.group(1)
            replacement, ref_start = f"{_word(word)} {position}", model_word.start()
        elif opener == "(":
            replacement = f"(response {position})"
        elif opener or possessive:
            starts = _SENTENCE_START.search(text[:ref_start])
            replacement = f"{'Response' if starts else 'response'} {position}"
        else:
            return None  # a bare letter: a unit, a variable, an initial?
        listing = replacement == position or (model_word and word.lower() == "models")
        run_end = end if listing else -1
        out.append(text[done:ref_start])
        out.append(replacement)
        done = end
    out.append(text[done:])
    return "".join(out)
