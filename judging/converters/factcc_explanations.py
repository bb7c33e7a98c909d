"""FactCC explanations (salesforce/factualNLG): human ratings of LLM explanations (Apache-2.0)

Source: `factcc_explanation_annotation.json`, a JSON array of (document, summary) pairs
{"id", "doc", "summary", "samples": [{"reason_idx", "prediction", "model", "prompt",
"annotation", "explanation"}]} (Laban et al. 2023, section 3.5). Every summary is factually
inconsistent with its document; each sample is one LLM's answer flagging it and explaining why.
One annotated sample -> one classification example of the explanation's quality (3,643 from 125
pairs), id "factcc-explanations/<id>/<reason_idx>"; the model, prompt and prediction are kept in
provenance.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from judging.converters import ConversionError, load_json_array
from judging.task_format import Example, Task, TaskType

FORMAT = "factcc-explanations"
LICENSE = "Apache-2.0"

EXPLANATION_QUALITY = Task(
    name="factcc-explanations/explanation-quality",
    type=TaskType.CLASSIFICATION,
    title="Does the model's explanation correctly identify the summary's factual error?",
    description=(
        "The summary contains a factual inconsistency with the document. A model was asked "
        "whether the summary is consistent and gave the explanation shown. Judge the "
        "explanation. 'correct': it points to the actual inconsistency in the summary and "
        "explains it accurately. 'partially_correct': it points to the actual inconsistency but "
        "its explanation is incomplete or also contains wrong claims. 'incorrect': it points to "
        "an error that is not the summary's actual inconsistency, or misstates the document. "
        "'unrelated': it does not address the inconsistency at all (for example it only quotes "
        "or restates the document). 'no_explanation': it gives a verdict without any explanation."
    ),
    context_fields=("document", "summary", "explanation"),
    output_fields=("explanation quality",),
    labels=("correct", "partially_correct", "incorrect", "unrelated", "no_explanation"),
)
TASKS = (EXPLANATION_QUALITY,)


def source_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("factcc_explanation_annotation*.json"))


def convert_file(path: Path, **options) -> Iterator[Example]:
    records = load_json_array(path)
    for index, record in enumerate(records):
        where = str(index)
        if not isinstance(record, dict):
            raise ConversionError(path, where, "(record)", "expected an object")
        for field in ("id", "doc", "summary"):
            if not isinstance(record.get(field), str):
                raise ConversionError(path, where, field, "missing or not text")
        samples = record.get("samples")
        if not isinstance(samples, list):
            raise ConversionError(path, where, "samples", "missing or not a list")
        for number, sample in enumerate(samples):
            sample_where = f"{index} samples[{number}]"
            if not isinstance(sample, dict):
                raise ConversionError(path, sample_where, "(sample)", "expected an object")
            for field in ("model", "explanation", "annotation"):
                if not isinstance(sample.get(field), str):
                    raise ConversionError(path, sample_where, field, "missing or not text")
            reason = sample.get("reason_idx")
            if isinstance(reason, bool) or not isinstance(reason, int):
                raise ConversionError(path, sample_where, "reason_idx", "missing or not an integer")
            if sample["annotation"] not in EXPLANATION_QUALITY.labels:
                raise ConversionError(
                    path,
                    sample_where,
                    "annotation",
                    f"{sample['annotation']!r} is not one of {list(EXPLANATION_QUALITY.labels)}",
                )
            yield Example(
                task=EXPLANATION_QUALITY.name,
                id=f"{FORMAT}/{record['id']}/{reason}",
                context={
                    "document": record["doc"],
                    "summary": record["summary"],
                    "explanation": sample["explanation"],
                },
                label=sample["annotation"],
                provenance={
                    "source": FORMAT,
                    "doc_id": record["id"],
                    "model": sample["model"],
                    "prompt": sample.get("prompt"),
                    "prediction": sample.get("prediction"),
                    "license": LICENSE,
                },
            )
