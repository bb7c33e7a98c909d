"""SQuALITY human evaluation (nyu-mll/SQuALITY): question-focused story summaries rated,
ranked and commented on by reviewers. Summaries and annotations CC BY 4.0; the stories are
under the Project Gutenberg licence.

Source files (one folder):
  * `all-responses.jsonl`: one line per story, {"passage-id", "questions": {"0".."4": {system:
    {"response", "reviews": [...], "overall": {...}}}}} with systems `bart`, `bart-dpr` and
    `human`. Each review is {"system", "worker_id", "correctness-rating", "selection-rating",
    "overall-rating" (0-100), "correctness-rank", "selection-rank", "overall-rank" (1 = best of
    the 3 systems), "annotations": [{"selection": <highlighted text>, "annotation": [<comment>]}]}.
  * `v1-3-txt-test.jsonl`: the stories and questions, {"metadata": {"passage_id"}, "document",
    "questions": [{"question_text", "question_number"}]}.

The story and the question text are joined in from `v1-3-txt-test.jsonl` (read whole once; it is
3 MB) on `passage-id` = `metadata.passage_id`; question key "k" is the story's (k+1)-th question
in `question_number` order. Every example carries the full story as context, so the output is
large (about 25 KB of story per example). A missing story file, story or question is an error.
The reviews were made on the v1 stories; v1.3 only fixes formatting and a few missing words.

One review of one response becomes:
  * 3 pointwise examples, one per rated attribute (`correctness-rating`, `selection-rating`,
    `overall-rating`), label = that reviewer's 0-100 rating (real-valued scale 0-100);
  * one open-ended example per highlighted span that has a comment: context = story, question,
    summary and the highlighted span, label = the comment (several comments on one span joined
    with a newline). Spans whose comments are all blank (1,437 of 3,142 in the real data) have no
    target text and give no example; a comment on an empty span is kept (span "").

The three reviewers of a question each review all 3 systems and rank them (ranks 1, 2, 3, no
ties). Per reviewer, question and ranked attribute the ranking becomes 3 pairwise examples (one
per pair of systems): label = the better-ranked response. Which system is shown as response A
is decided by the first byte of the SHA-256 of the example id (even: the alphabetically first
system is A), so that the human summary is not always in the same position.

Counts from the real data: 300 responses x 3 reviews = 900 examples per rating task, 100
questions x 3 reviewers x 3 pairs = 900 examples per ranking task, 1,705 span comments.
The aggregated `overall` block per response (means of the three reviews) is not used: the
individual reviews carry all of it. Unknown keys are ignored; missing or malformed ones raise.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from judging.converters import ConversionError
from judging.task_format import Example, Task, TaskType

FORMAT = "squality-human-eval"
LICENSE = "CC BY 4.0 (summaries, annotations); stories: Project Gutenberg licence"
STORY_FILE = "v1-3-txt-test.jsonl"
SYSTEMS = ("bart", "bart-dpr", "human")
ATTRIBUTES = ("correctness", "selection", "overall")

_GUIDE = {
    "correctness": (
        "correctness: does the summary state only things that are true of the story? A summary "
        "with no false or unsupported claims scores high; every claim that contradicts the story "
        "or invents events, characters or details lowers the score"
    ),
    "selection": (
        "selection (coverage): does the summary pick the information from the story that answers "
        "the question? A summary that covers all the important, relevant points and leaves out "
        "irrelevant detail scores high; missing key points or padding with unrelated material "
        "lowers the score"
    ),
    "overall": (
        "overall quality: how good is the summary as an answer to the question, taking "
        "correctness, coverage and fluency together"
    ),
}

RATING_TASKS = {
    attribute: Task(
        name=f"{FORMAT}/{attribute}-rating",
        type=TaskType.POINTWISE,
        title=f"Rate the {attribute} of a question-focused story summary (0-100)",
        description=(
            "Read the story, the question and the summary written to answer it. Rate the "
            f"summary's {_GUIDE[attribute]}. Answer with a number from 0 to 100: 0 = very poor, "
            "50 = acceptable with clear problems, 100 = excellent, no problems."
        ),
        context_fields=("story", "question", "summary"),
        output_fields=("rating",),
        scale=(0, 100),
    )
    for attribute in ATTRIBUTES
}
RANKING_TASKS = {
    attribute: Task(
        name=f"{FORMAT}/{attribute}-ranking",
        type=TaskType.PAIRWISE,
        title=f"Which story summary is better for {attribute}?",
        description=(
            "Read the story, the question and two summaries written to answer it. Compare their "
            f"{_GUIDE[attribute]}. Answer 'A' if response A is better on this, 'B' if response B "
            "is better."
        ),
        context_fields=("story", "question", "response A", "response B"),
        output_fields=("choice",),
        labels=("A", "B"),
    )
    for attribute in ATTRIBUTES
}
SPAN_COMMENT = Task(
    name=f"{FORMAT}/span-comment",
    type=TaskType.OPEN_ENDED,
    title="Comment on a highlighted span of a story summary",
    description=(
        "Read the story, the question, the summary written to answer it and a span of the summary "
        "that a reviewer highlighted (it may be empty when the comment is about the whole "
        "summary). Write the reviewer's comment: say what is wrong or notable about the span, "
        "e.g. a claim the story does not support, a missing point, repetition or confusing text."
    ),
    context_fields=("story", "question", "summary", "highlighted span"),
    output_fields=("comment",),
)
TASKS = (*RATING_TASKS.values(), *RANKING_TASKS.values(), SPAN_COMMENT)


def source_files(folder: Path) -> list[Path]:
    path = folder / "all-responses.jsonl"
    return [path] if path.exists() else []


def _stories(path: Path) -> dict[str, tuple[str, list[str]]]:
    """passage id -> (story text, question texts in question_number order)."""
    if not path.exists():
        raise ConversionError(
            path, 0, "(file)", "story file missing; it must sit next to the responses file"
        )
    stories: dict[str, tuple[str, list[str]]] = {}
    with open(path, encoding="utf-8") as handle:
        for line_number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                record = json.loads(raw)
                passage_id = str(record["metadata"]["passage_id"])
                document = record["document"]
                questions = sorted(record["questions"], key=lambda q: q["question_number"])
                texts = [question["question_text"] for question in questions]
            except json.JSONDecodeError as error:
                raise ConversionError(path, line_number, "(json)", error.msg) from error
            except (KeyError, TypeError) as error:
                raise ConversionError(
                    path, line_number, str(error), "missing or malformed"
                ) from error
            if not isinstance(document, str) or not all(isinstance(t, str) for t in texts):
                raise ConversionError(
                    path, line_number, "document", "story and questions must be text"
                )
            stories[passage_id] = (document, texts)
    return stories


def _get(
    record: Any, key: str, kind: type | tuple[type, ...], path: Path, line: int, where: str
) -> Any:
    if not isinstance(record, dict) or key not in record:
        raise ConversionError(path, line, f"{where}{key}", "missing")
    value = record[key]
    if not isinstance(value, kind) or isinstance(value, bool):
        raise ConversionError(path, line, f"{where}{key}", f"wrong type {type(value).__name__}")
    return value


def _number_label(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _a_is_first(example_id: str) -> bool:
    return hashlib.sha256(example_id.encode("utf-8")).digest()[0] % 2 == 0


def convert_file(path: Path, **options) -> Iterator[Example]:
    stories = _stories(path.parent / STORY_FILE)
    with open(path, encoding="utf-8") as handle:
        for line_number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                record = json.loads(raw)
            except json.JSONDecodeError as error:
                raise ConversionError(path, line_number, "(json)", error.msg) from error
            yield from _convert_story(path, line_number, record, stories)


def _convert_story(
    path: Path, line: int, record: Any, stories: dict[str, tuple[str, list[str]]]
) -> Iterator[Example]:
    passage_id = str(_get(record, "passage-id", (str, int), path, line, ""))
    if passage_id not in stories:
        raise ConversionError(path, line, "passage-id", f"{passage_id} not in {STORY_FILE}")
    story, question_texts = stories[passage_id]
    questions = _get(record, "questions", dict, path, line, "")
    for key, systems in questions.items():
        where = f"questions.{key}."
        if not key.isdigit() or int(key) >= len(question_texts):
            raise ConversionError(path, line, f"questions.{key}", "no such question in the story")
        question = question_texts[int(key)]
        base = f"{FORMAT}/{passage_id}/q{key}"
        provenance = {
            "source": FORMAT,
            "passage_id": passage_id,
            "question": int(key),
            "license": LICENSE,
            "split": "test",
        }
        responses: dict[str, str] = {}
        reviews: dict[str, dict[str, dict]] = {}  # worker -> system -> review
        for system in SYSTEMS:
            entry = _get(systems, system, dict, path, line, where)
            responses[system] = _get(entry, "response", str, path, line, f"{where}{system}.")
            review_list = _get(entry, "reviews", list, path, line, f"{where}{system}.")
            for index, review in enumerate(review_list):
                at = f"{where}{system}.reviews.{index}."
                worker = str(_get(review, "worker_id", (str, int), path, line, at))
                if system in reviews.setdefault(worker, {}):
                    raise ConversionError(
                        path, line, f"{at}worker_id", f"worker {worker} reviews {system} twice"
                    )
                reviews[worker][system] = review
                yield from _review_examples(
                    path,
                    line,
                    at,
                    review,
                    story,
                    question,
                    responses[system],
                    f"{base}/{system}/w{worker}",
                    {**provenance, "system": system, "worker_id": worker},
                )
        for worker, by_system in reviews.items():
            missing = set(SYSTEMS) - set(by_system)
            if missing:
                raise ConversionError(
                    path,
                    line,
                    f"{where}reviews",
                    f"worker {worker} did not review {sorted(missing)}",
                )
            for attribute in ATTRIBUTES:
                ranks = {}
                for system in SYSTEMS:
                    rank = _get(
                        by_system[system],
                        f"{attribute}-rank",
                        int,
                        path,
                        line,
                        f"{where}{system}.reviews[worker {worker}].",
                    )
                    if rank not in (1, 2, 3):
                        raise ConversionError(
                            path,
                            line,
                            f"{where}{system}.{attribute}-rank",
                            f"rank {rank} is not 1, 2 or 3",
                        )
                    ranks[system] = rank
                for first, second in itertools.combinations(SYSTEMS, 2):
                    if ranks[first] == ranks[second]:
                        raise ConversionError(
                            path,
                            line,
                            f"{where}{attribute}-rank",
                            f"worker {worker} ranks {first} and {second} equal",
                        )
                    example_id = f"{base}/{first}-vs-{second}/w{worker}/{attribute}-ranking"
                    a, b = (first, second) if _a_is_first(example_id) else (second, first)
                    yield Example(
                        task=RANKING_TASKS[attribute].name,
                        id=example_id,
                        context={
                            "story": story,
                            "question": question,
                            "response A": responses[a],
                            "response B": responses[b],
                        },
                        label="A" if ranks[a] < ranks[b] else "B",
                        provenance={
                            **provenance,
                            "worker_id": worker,
                            "system_a": a,
                            "system_b": b,
                            "rank_a": ranks[a],
                            "rank_b": ranks[b],
                        },
                    )


def _review_examples(
    path: Path,
    line: int,
    at: str,
    review: dict,
    story: str,
    question: str,
    summary: str,
    base: str,
    provenance: dict[str, Any],
) -> Iterator[Example]:
    for attribute in ATTRIBUTES:
        field = f"{attribute}-rating"
        rating = _get(review, field, (int, float), path, line, at)
        if not 0 <= rating <= 100:
            raise ConversionError(path, line, f"{at}{field}", f"{rating} is outside 0-100")
        yield Example(
            task=RATING_TASKS[attribute].name,
            id=f"{base}/{field}",
            context={"story": story, "question": question, "summary": summary},
            label=_number_label(rating),
            provenance=provenance,
        )
    annotations = _get(review, "annotations", list, path, line, at)
    for index, annotation in enumerate(annotations):
        where = f"{at}annotations.{index}."
        span = _get(annotation, "selection", str, path, line, where)
        comments = _get(annotation, "annotation", list, path, line, where)
        if not all(isinstance(comment, str) for comment in comments):
            raise ConversionError(path, line, f"{where}annotation", "comments must be text")
        text = "\n".join(comment.strip() for comment in comments if comment.strip())
        if not text:
            continue  # a highlight without a comment has no target text (see module docstring)
        yield Example(
            task=SPAN_COMMENT.name,
            id=f"{base}/span{index}",
            context={
                "story": story,
                "question": question,
                "summary": summary,
                "highlighted span": span,
            },
            label=text,
            provenance=provenance,
        )
