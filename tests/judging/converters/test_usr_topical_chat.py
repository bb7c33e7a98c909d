import json
from collections import Counter
from pathlib import Path

import pytest

from judging.converters import ConversionError, convert
from judging.converters import usr_topical_chat as usr
from judging.task_format import Example

FORMAT = "usr-topical-chat"
DATA = Path(__file__).resolve().parents[3].parent / "shared" / "data" / FORMAT
SCORES = {
    "understandability": 0.6666666667,
    "naturalness": 3,
    "coherence": 2.3333333333,
    "engagingness": 1.0,
    "groundedness": 0.0,
    "overall": 4.3333333333,
}


def _record(source, output="sure , i like jazz . ", scores=SCORES, system="Argmax Decoding"):
    return {
        "source": source,
        "system_id": system,
        "system_output": output,
        "context": "jazz started in new orleans .\n",
        "scores": dict(scores),
    }


def _write(folder: Path, records) -> Path:
    path = folder / "topical_chat.json"
    path.write_text(json.dumps(records), encoding="utf-8")
    return path


def test_converts_turns_and_real_valued_scores(tmp_path):
    three_turns = "hi there \n hello ! do you like music ? \n i do . jazz mostly \n\n"
    two_turns = "hi \n hello \n\n"  # edge case: even number of turns
    path = _write(tmp_path, [_record(three_turns), _record(two_turns, system="New Human")])
    examples = list(usr.convert_file(path))
    assert len(examples) == 12
    assert [e.label for e in examples[:6]] == ["0.6667", "3", "2.3333", "1", "0", "4.3333"]
    assert examples[0] == Example(
        task=f"{FORMAT}/understandability",
        id=f"{FORMAT}/0/understandability",
        context={
            "dialogue": [
                {"role": "partner", "content": "hi there"},
                {"role": "responder", "content": "hello ! do you like music ?"},
                {"role": "partner", "content": "i do . jazz mostly"},
            ],
            "fact": "jazz started in new orleans .",
            "response": "sure , i like jazz .",
        },
        label="0.6667",
        provenance={
            "source": FORMAT,
            "license": usr.LICENSE,
            "system": "Argmax Decoding",
            "dialogue_index": 0,
            "score": 0.6666666667,
            "annotators": 3,
        },
    )
    second = examples[11]
    assert second.id == f"{FORMAT}/1/overall"
    assert second.context["dialogue"] == [
        {"role": "responder", "content": "hi"},
        {"role": "partner", "content": "hello"},
    ]
    assert second.provenance["dialogue_index"] == 1


@pytest.mark.parametrize(
    ("scores", "field"),
    [
        ({**SCORES, "overall": 6}, "scores.overall"),
        ({**SCORES, "coherence": "3"}, "scores.coherence"),
        ({k: v for k, v in SCORES.items() if k != "groundedness"}, "scores.groundedness"),
    ],
)
def test_bad_score_names_file_record_and_field(tmp_path, scores, field):
    path = _write(tmp_path, [_record("a \n b \n\n"), _record("a \n b \n\n", scores=scores)])
    with pytest.raises(ConversionError) as caught:
        list(usr.convert_file(path))
    assert (caught.value.record, caught.value.field) == ("1", field)
    assert f"{path}: record 1: field {field!r}" in str(caught.value)


def test_missing_field(tmp_path):
    record = _record("a \n\n")
    del record["system_output"]
    path = _write(tmp_path, [record])
    with pytest.raises(ConversionError, match="record 0: field 'system_output': missing"):
        list(usr.convert_file(path))


def test_real_folder_counts():
    if not DATA.exists():
        pytest.skip(f"{DATA} not available")
    _, examples = convert(FORMAT, [DATA])
    counts = Counter()
    dialogues = set()
    for example in examples:
        counts[example.task] += 1
        dialogues.add(example.provenance["dialogue_index"])
        assert example.context["dialogue"][-1]["role"] == "partner"
    assert counts == {f"{FORMAT}/{aspect}": 360 for aspect in usr.ASPECTS}
    assert len(dialogues) == 60
