"""ROSCOE (Golovneva et al., ICLR 2023) via JUDGE-BENCH: expert ratings of GPT-3 reasoning (MIT)

Source: `roscoe-<dataset>-<overall|stepwise>.json` for the datasets cosmos, drop, esnli and gsm8k,
each one JSON object in JUDGE-BENCH's unified schema: {"dataset", "annotations": [{"metric",
"category": "graded"|"categorical", "worst", "best", "labels_list", "prompt"}], "instances":
[{"id", "instance": "<instructions>\\n\\nCONTEXT:\\n<problem>\\n\\nGENERATED RESPONSE:\\n<steps>
...", "annotations": {"<metric>": {"majority_human", "individual_human_scores", "mean_human"}}}]}.
The instance text is split into the problem (with its reference solution or correct answer),
the numbered steps of the generated response and, in stepwise files, the judged step (after
"JUDGE:"); the dataset-specific instruction preamble is dropped (the task descriptions say what
to judge) and the dataset is kept in provenance.

One instance -> one example per rated attribute:
  * `*-overall` (756 instances) -> 4 examples each: Overall Quality and Coherency as pointwise
    1-5, Missing Steps and Contradiction as yes/no classification (756 per task, 3,024 in all).
  * `*-stepwise` (2,014 step instances) -> 9 yes/no classification examples each, one per
    step-level error type (2,014 per task, 18,126 in all).
There is one expert rating per instance, so `label_distribution` stays empty. Ids are
"roscoe/<dataset>-<overall|stepwise>/<instance id>/<attribute>".
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from judging.converters import ConversionError
from judging.task_format import Example, Task, TaskType

FORMAT = "roscoe"
LICENSE = "MIT"
FILE_NAME = re.compile(r"roscoe-(?P<dataset>[a-z0-9_]+)-(?P<level>overall|stepwise)$")
STEP_NUMBER = re.compile(r"Step (\d+) - ")

_PROBLEM = (
    "The problem shows the question (for cosmos, drop and esnli a situation and a claim, asked "
    "whether the claim is supported) together with its reference solution or correct answer. "
)
OVERALL_CONTEXT = ("problem", "generated response")
STEP_CONTEXT = ("problem", "generated response", "step")
YES_NO = ("yes", "no")
SCALE = ("1", "2", "3", "4", "5")


def _overall(slug: str, title: str, guideline: str, pointwise: bool) -> Task:
    return Task(
        name=f"roscoe/{slug}",
        type=TaskType.POINTWISE if pointwise else TaskType.CLASSIFICATION,
        title=title,
        description=(
            "A model answered the problem with a step-by-step reasoning chain (the generated "
            f"response). {_PROBLEM}Judge the generated response as a whole. {guideline}"
        ),
        context_fields=OVERALL_CONTEXT,
        output_fields=("rating",) if pointwise else ("answer",),
        labels=SCALE if pointwise else YES_NO,
    )


def _step(slug: str, title: str, guideline: str) -> Task:
    return Task(
        name=f"roscoe/step-{slug}",
        type=TaskType.CLASSIFICATION,
        title=title,
        description=(
            "A model answered the problem with a step-by-step reasoning chain (the generated "
            f"response). {_PROBLEM}Judge only the step shown under 'step', in the light of "
            f"the problem and the steps before it. {guideline} Answer 'yes' if it does, 'no' if "
            "it does not."
        ),
        context_fields=STEP_CONTEXT,
        output_fields=("answer",),
        labels=YES_NO,
    )


OVERALL_TASKS = {
    "Overall Quality": _overall(
        "overall-quality",
        "How well does the reasoning answer the question?",
        "Rate whether it answers the question in a well-justified manner, from 1 "
        "(incomprehensible and wrong) to 5 (clear and correct).",
        pointwise=True,
    ),
    "Coherency": _overall(
        "coherency",
        "Does the whole reasoning make sense?",
        "Rate whether it sounds understandable, non-contradictory and sensible, even if it fails "
        "to address the problem, from 1 (sounds like nonsense) to 5 (easy to parse).",
        pointwise=True,
    ),
    "Missing Steps": _overall(
        "missing-steps",
        "Is the reasoning missing steps?",
        "Answer 'yes' if the reasoning is incomplete and lacks information required to reach "
        "the correct answer, that is, if steps could be added to make a well-supported chain; "
        "'no' otherwise.",
        pointwise=False,
    ),
    "Contradiction": _overall(
        "contradiction",
        "Do the steps contradict each other?",
        "Answer 'yes' if steps contradict each other or fail to follow a cohesive story; 'no' "
        "otherwise.",
        pointwise=False,
    ),
}
STEP_TASKS = {
    "Grammar": _step(
        "grammar",
        "Does this step have faulty grammar?",
        "Does the step contain faulty, unconventional or controversial grammar, so that its "
        "language sounds unnatural?",
    ),
    "Factuality": _step(
        "factuality",
        "Does this step contradict the problem?",
        "Does the step contain information that contradicts the problem while still talking "
        "about the same concepts (for example wrong characteristics of named objects, or "
        "changed named entities)?",
    ),
    "Coherency and Logic": _step(
        "coherency-and-logic",
        "Does this step make a logical deduction error?",
        "Does the step contain a logical deduction error: a conclusion that contradicts earlier "
        "statements (including ones within the step), or a conclusion without enough support?",
    ),
    "Final Answer": _step(
        "final-answer",
        "Is this step a final step with a wrong final answer?",
        "Is the step a final step that gives an incorrect final answer? Without an explicit "
        "yes/no, the final answer must match the correct answer exactly.",
    ),
    "Hallucination": _step(
        "hallucination",
        "Does this step hallucinate information?",
        "Does the step contain information not given in the problem that is irrelevant or wrong?",
    ),
    "Redundancy": _step(
        "redundancy",
        "Is this step redundant?",
        "Does the step contain information that is not needed to answer the question, even "
        "though it is factual and consistent with the problem?",
    ),
    "Repetition": _step(
        "repetition",
        "Does this step repeat an earlier step?",
        "Does the step contain information, possibly paraphrased, already given in a previous "
        "step, so that it could be dropped without affecting correctness?",
    ),
    "Commonsense": _step(
        "commonsense",
        "Does this step contradict common sense?",
        "Does the step contain an error of general world knowledge not given in the problem "
        "(for example how to compute velocity, or how many inches are in a foot)?",
    ),
    "Arithmetic": _step(
        "arithmetic",
        "Does this step contain an arithmetic error?",
        "Does the step contain a math equation error? Consider the step in isolation, not "
        "errors carried over from earlier steps.",
    ),
}
TASKS = (*OVERALL_TASKS.values(), *STEP_TASKS.values())


def source_files(folder: Path) -> list[Path]:
    return sorted(path for path in folder.glob("roscoe-*.json") if FILE_NAME.match(path.stem))


def _split_instance(path: Path, where: str, text: str, stepwise: bool) -> dict[str, str]:
    _, marker, rest = text.partition("\nCONTEXT:\n")
    problem, marker2, response = rest.partition("\n\nGENERATED RESPONSE:\n")
    if not (marker and marker2):
        raise ConversionError(
            path, where, "instance", "lacks the 'CONTEXT:' or 'GENERATED RESPONSE:' section"
        )
    if stepwise:
        response, marker, step = response.partition("\nJUDGE: ")
        if not marker or not step.strip():
            raise ConversionError(path, where, "instance", "lacks the judged step ('JUDGE:')")
        return {
            "problem": problem.strip(),
            "generated response": response.strip(),
            "step": step.strip(),
        }
    response = response.removesuffix("\n").removesuffix("Judge the generated response:")
    return {"problem": problem.strip(), "generated response": response.strip()}


def _label(path: Path, where: str, metric: str, task: Task, rating: Any) -> tuple[str, Any]:
    if not isinstance(rating, dict) or "majority_human" not in rating:
        raise ConversionError(path, where, f"annotations.{metric}", "missing majority_human")
    value = rating["majority_human"]
    if task.type is TaskType.POINTWISE:
        if isinstance(value, bool) or not isinstance(value, int) or str(value) not in task.labels:
            raise ConversionError(
                path, where, f"annotations.{metric}", f"rating {value!r} is not an integer 1-5"
            )
    elif value not in task.labels:
        raise ConversionError(
            path, where, f"annotations.{metric}", f"label {value!r} is not 'yes' or 'no'"
        )
    scores = rating.get("individual_human_scores")
    if not isinstance(scores, list) or not scores:
        raise ConversionError(
            path, where, f"annotations.{metric}", "individual_human_scores missing or empty"
        )
    return str(value), scores


def convert_file(path: Path, **options) -> Iterator[Example]:
    match = FILE_NAME.match(path.stem)
    if match is None:
        raise ConversionError(
            path, 1, "(file name)", "expected roscoe-<dataset>-<overall|stepwise>.json"
        )
    dataset, level = match["dataset"], match["level"]
    stepwise = level == "stepwise"
    tasks = STEP_TASKS if stepwise else OVERALL_TASKS
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ConversionError(path, error.lineno, "(json)", error.msg) from error
    if not isinstance(data, dict) or not isinstance(data.get("instances"), list):
        raise ConversionError(path, 1, "instances", "expected an object with an instances list")
    for number, annotation in enumerate(data.get("annotations") or []):
        metric = annotation.get("metric") if isinstance(annotation, dict) else None
        if metric not in tasks:
            raise ConversionError(
                path, f"annotations[{number}]", "metric", f"unknown {level} metric {metric!r}"
            )
    for index, instance in enumerate(data["instances"]):
        where = str(index)
        if not isinstance(instance, dict):
            raise ConversionError(path, where, "(instance)", "expected an object")
        if "id" not in instance:
            raise ConversionError(path, where, "id", "missing")
        where = f"{index} (id {instance['id']})"
        if not isinstance(instance.get("instance"), str):
            raise ConversionError(path, where, "instance", "missing or not text")
        context = _split_instance(path, where, instance["instance"], stepwise)
        ratings = instance.get("annotations")
        if not isinstance(ratings, dict):
            raise ConversionError(path, where, "annotations", "missing or not an object")
        unknown = set(ratings) - set(tasks)
        if unknown:
            raise ConversionError(path, where, "annotations", f"unknown metrics {sorted(unknown)}")
        provenance = {
            "source": "roscoe (JUDGE-BENCH)",
            "dataset": dataset,
            "level": level,
            "instance_id": instance["id"],
            "license": LICENSE,
        }
        if stepwise:
            step = STEP_NUMBER.match(context["step"])
            provenance["step"] = int(step[1]) if step else None
        for metric, task in tasks.items():
            if metric not in ratings:
                raise ConversionError(path, where, f"annotations.{metric}", "missing")
            label, scores = _label(path, where, metric, task, ratings[metric])
            yield Example(
                task=task.name,
                id=f"{FORMAT}/{dataset}-{level}/{instance['id']}/{task.name.split('/')[1]}",
                context=dict(context),
                label=label,
                provenance={**provenance, "annotators": len(scores)},
                label_distribution=(
                    dict(Counter(str(score) for score in scores)) if len(scores) > 1 else None
                ),
            )
