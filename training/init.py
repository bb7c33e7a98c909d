"""Starting a run from a checkpoint (`train --init DIR`): which layouts, and what is checked.

DIR is an Ember checkpoint, an adapter checkpoint (merged onto its base) or a local Hugging Face
checkpoint (judging.checkpoint.load_model_dir tells them apart and names the three when DIR is
none of them). The run keeps the checkpoint's model config, weights, tokenizer and special
tokens. A verdict label is the token the judge reads after the prompt: for Ember's own
tokenizers the label's single token, for a pretrained one the first token of the rendered label
in context (`HFJudgeTokenizer.label_token_id`); a task whose labels share that token cannot be
trained or judged, and is refused here naming the task, the labels and the token.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from judging.checkpoint import LoadedModel, load_model_dir
from judging.task_format import Task, TaskType
from judging.tokenizer import JudgeTokenizer


def load_init(directory: str | Path) -> LoadedModel:
    """The starting checkpoint, any layout; ValueError naming the layouts if DIR is none."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ValueError(f"--init {directory}: no such directory")
    return load_model_dir(directory)


def check_label_tokens(
    tasks: Mapping[str, Task], tokenizer: JudgeTokenizer, source: str | Path
) -> None:
    """ValueError when two labels of a scorable task start with the same token in context."""
    for task in tasks.values():
        if task.type is TaskType.OPEN_ENDED or not task.labels:
            continue
        seen: dict[int, str] = {}
        for label in task.labels:
            try:
                token = tokenizer.label_token_id(label)
            except KeyError as error:
                raise ValueError(
                    f"task {task.name!r}: label {label!r} has no token in the tokenizer of "
                    f"{source}: {error}"
                ) from None
            if token in seen:
                raise ValueError(
                    f"task {task.name!r}: labels {seen[token]!r} and {label!r} both start with "
                    f"token {token} ({tokenizer.decode([token])!r}) in the tokenizer of {source}; "
                    "the judge reads one next token, so their verdicts cannot be told apart "
                    "(rename a label)"
                )
            seen[token] = label
