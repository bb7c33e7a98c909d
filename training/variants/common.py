"""Shared pieces of the training variants (rm, tailpatch, self_taught).

Each variant starts from a saved judge checkpoint: `check_labels` refuses, with a clear error,
a task whose verdict labels the checkpoint's tokenizer cannot score as one token, and
`annotate_checkpoint` records in a trained checkpoint's metadata.json which variant made it
and from what.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from judging.checkpoint import METADATA_FILE, TOKENIZER_FILE, is_checkpoint
from judging.task_format import Example, Task, TaskType
from judging.tokenizer import JudgeTokenizer


def require_checkpoint(directory: str | Path, what: str = "base checkpoint") -> Path:
    directory = Path(directory)
    if not is_checkpoint(directory):
        raise FileNotFoundError(f"{what} {directory} is not a judge checkpoint")
    return directory


def check_labels(checkpoint: str | Path, tasks: Iterable[Task]) -> None:
    """ValueError naming the task and label if the checkpoint's tokenizer cannot score one."""
    tokenizer = JudgeTokenizer.load(require_checkpoint(checkpoint) / TOKENIZER_FILE)
    for task in tasks:
        for label in task.labels:
            if not tokenizer.has_single_token(label):
                raise ValueError(
                    f"task {task.name!r}: label {label!r} is not one token of the tokenizer of "
                    f"{checkpoint}; fine-tune from a checkpoint trained with this task"
                )


def scorable_examples(
    tasks: Mapping[str, Task], examples: Sequence[Example], names: Iterable[str] | None = None
) -> list[Example]:
    """Labelled examples of known, non-open-ended tasks with a closed label set (what train()
    and Judge.judge() use), optionally only of the tasks in `names`."""
    wanted = set(names) if names is not None else None
    kept = []
    for example in examples:
        task = tasks.get(example.task)
        if task is None or task.type is TaskType.OPEN_ENDED or not task.labels:
            continue
        if wanted is not None and task.name not in wanted:
            continue
        if example.label is not None and example.label in task.labels:
            kept.append(example)
    return kept


def annotate_checkpoint(directory: str | Path, variant: dict[str, Any]) -> None:
    """Add {"variant": variant} to the checkpoint's metadata.json (atomic rewrite)."""
    path = Path(directory) / METADATA_FILE
    metadata = json.loads(path.read_text("utf-8")) if path.exists() else {}
    metadata["variant"] = variant
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}")
    tmp.write_text(json.dumps(metadata, indent=2, sort_keys=True, default=str) + "\n", "utf-8")
    os.replace(tmp, path)
