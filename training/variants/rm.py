"""FLAMe-RM (arXiv 2407.10817 section 4.2): a short fine-tune of a FLAMe checkpoint on an
equal mixture of pairwise tasks.

FLAMe-RM fine-tuned FLAMe for 50 steps on an equal mix of four pairwise datasets (chat,
reasoning, code, safety) that FLAMe had already seen. Here every pairwise task with labelled
examples (or the ones named) gets the same mixture weight, whatever its size, and training
starts from the base checkpoint's weights, model config and tokenizer (`train(...,
init_checkpoint=base)`). The number of steps is `config.steps`; the CLI defaults to
`DEFAULT_RM_STEPS`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

from judging.task_format import Example, Task, TaskType
from training.config import TrainConfig
from training.loop import ProgressFn, TrainResult, train
from training.variants.common import (
    annotate_checkpoint,
    check_labels,
    require_checkpoint,
    scorable_examples,
)

DEFAULT_RM_STEPS = 50


def rm_mixture(
    tasks: Mapping[str, Task],
    examples: Sequence[Example],
    task_names: Iterable[str] | None = None,
) -> tuple[dict[str, Task], list[Example], dict[str, float]]:
    """The pairwise tasks (all, or those named), their labelled examples, and equal weights.

    ValueError if a named task is unknown or not pairwise, or if no pairwise task has data."""
    if task_names is not None:
        names = list(dict.fromkeys(task_names))
        for name in names:
            if name not in tasks:
                raise ValueError(f"unknown task {name!r}; known: {sorted(tasks)}")
            if tasks[name].type is not TaskType.PAIRWISE:
                raise ValueError(f"task {name!r} is {tasks[name].type}, not pairwise")
    else:
        names = [name for name, task in tasks.items() if task.type is TaskType.PAIRWISE]
    kept = scorable_examples(tasks, examples, names)
    present = sorted({example.task for example in kept})
    if not present:
        raise ValueError("no labelled examples of a pairwise task: FLAMe-RM needs pairwise data")
    return (
        {name: tasks[name] for name in present},
        kept,
        {name: 1.0 / len(present) for name in present},
    )


def finetune_rm(
    base_checkpoint: str | Path,
    tasks: Mapping[str, Task],
    examples: Sequence[Example],
    config: TrainConfig,
    out_dir: str | Path,
    on_progress: ProgressFn | None = None,
    should_stop: Callable[[], bool] | None = None,
    *,
    task_names: Iterable[str] | None = None,
    state_dir: str | Path | None = None,
) -> TrainResult:
    """Fine-tune `base_checkpoint` for `config.steps` steps on an equal mix of pairwise tasks."""
    require_checkpoint(base_checkpoint)
    rm_tasks, rm_examples, weights = rm_mixture(tasks, examples, task_names)
    check_labels(base_checkpoint, rm_tasks.values())
    rm_config = config.replace(mixture_weights=weights)
    result = train(
        rm_tasks,
        rm_examples,
        rm_config,
        out_dir,
        on_progress=on_progress,
        state_dir=state_dir,
        should_stop=should_stop,
        init_checkpoint=base_checkpoint,
    )
    annotate_checkpoint(
        result.checkpoint_dir,
        {
            "name": "flame-rm",
            "base_checkpoint": str(Path(base_checkpoint).absolute()),
            "tasks": sorted(rm_tasks),
            "mixture_weights": weights,
            "steps": result.steps,
        },
    )
    return result
