from collections import Counter
from pathlib import Path

import pytest

from judging.converters import ConversionError, convert
from judging.converters import novikova2017_nlg_eval as nov
from judging.task_format import Example

FORMAT = "novikova2017-nlg-eval"
DATA = Path(__file__).resolve().parents[3].parent / "shared" / "data" / FORMAT

HEADER = (
    '"dataset","system","mr_type","mr","sys_ref","TER","Bleu_1","Bleu_2","Bleu_3","Bleu_4",'
    '"ROUGE_L","NIST","LEPOR","CIDEr","METEOR","sim.mr.sys","lev.dist","sys.read.flesch",'
    '"sys.cpw","sys.ref.len","sys.wps","sys.sps","sys.spw","sys.n.poly","sys.pspw","n.misspel",'
    '"parser.sc.mean","parser.sc.max","informativeness","naturalness","quality","domain",'
    '"inf_bin","nat_bin","qual_bin","inf_bin2","nat_bin2","qual_bin2"\n'
)
METRICS = ",".join(["0.5"] * 23)
ROWS = [
    '"BAGEL","Dusek","inform","inform(name=none,area=citycentre,near=\'X\')",'
    f'"there is no information near x.",{METRICS},6,4,5,"REST","good","avg","good",'
    '"Good+Avg","Good+Avg","Good+Avg"\n',
    # Edge case: half-point medians, and an output with a quoted comma.
    '"SFHOT","WEN","confirm","?confirm(near=\'X\')",'
    f'"you want a hotel near x, right?",{METRICS},4.5,5.5,1,"HOTEL","avg","good","bad",'
    '"Good+Avg","Good+Avg","Bad"\n',
]


def _write(folder: Path, rows: list[str]) -> Path:
    path = folder / "emnlp_data_medians.csv"
    path.write_text(HEADER + "".join(rows), encoding="utf-8")
    return path


def test_converts_one_example_per_attribute(tmp_path):
    path = _write(tmp_path, ROWS)
    examples = list(nov.convert_file(path))
    assert [(e.id, e.label) for e in examples] == [
        (f"{FORMAT}/row1/informativeness", "6"),
        (f"{FORMAT}/row1/naturalness", "4"),
        (f"{FORMAT}/row1/quality", "5"),
        (f"{FORMAT}/row2/informativeness", "4.5"),
        (f"{FORMAT}/row2/naturalness", "5.5"),
        (f"{FORMAT}/row2/quality", "1"),
    ]
    assert examples[4] == Example(
        task=f"{FORMAT}/naturalness",
        id=f"{FORMAT}/row2/naturalness",
        context={
            "meaning representation": "?confirm(near='X')",
            "utterance": "you want a hotel near x, right?",
        },
        label="5.5",
        provenance={
            "source": FORMAT,
            "license": "MIT",
            "dataset": "SFHOT",
            "system": "WEN",
            "mr_type": "confirm",
            "domain": "HOTEL",
            "row": 2,
        },
    )


def test_unknown_rating_names_file_line_and_column(tmp_path):
    bad = ROWS[1].replace(",4.5,5.5,1,", ",4.5,5.5,7,")
    path = _write(tmp_path, [ROWS[0], bad])
    with pytest.raises(ConversionError) as caught:
        list(nov.convert_file(path))
    assert (caught.value.record, caught.value.field) == (3, "quality")
    assert f"{path}: line 3: field 'quality'" in str(caught.value)


def test_missing_column_and_short_row(tmp_path):
    path = tmp_path / "emnlp_data_medians.csv"
    path.write_text(HEADER.replace('"naturalness",', "") + ROWS[0])
    with pytest.raises(ConversionError, match="field 'naturalness': column missing"):
        list(nov.convert_file(path))
    path = _write(tmp_path, [ROWS[0], '"SFRES","LOLS","inform"\n'])
    with pytest.raises(ConversionError, match=r"line 3: field 'mr': missing \(short row\)"):
        list(nov.convert_file(path))


def test_real_folder_counts():
    if not DATA.exists():
        pytest.skip(f"{DATA} not available")
    _, examples = convert(FORMAT, [DATA])
    counts = Counter()
    datasets = Counter()
    for example in examples:
        counts[example.task] += 1
        if example.task == f"{FORMAT}/quality":
            datasets[example.provenance["dataset"]] += 1
    assert counts == {f"{FORMAT}/{a}": 2460 for a in ("informativeness", "naturalness", "quality")}
    assert datasets == {"SFRES": 1181, "SFHOT": 875, "BAGEL": 404}
