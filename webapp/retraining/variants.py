"""Train a candidate with the run's variant: FLAMe, FLAMe-RM, FLAMe-Opt-RM or the Self-Taught
loop that writes its own pairs (no Django here).

The training functions come from training/ (loop.train, variants.rm.finetune_rm,
variants.tailpatch.*); optional keyword arguments (state_dir, should_stop) are passed only where
the function takes them.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from judging.task_format import Example, Task
from training.config import TrainConfig

# The Self-Taught loop's report (per round: counts, kept pairs file, held-out accuracy), kept in
# the candidate's checkpoint directory for the run's report.
SELF_TAUGHT_REPORT = "self_taught.json"


class VariantUnavailable(RuntimeError):
    pass


def _supported(fn: Callable, **optional: Any) -> dict[str, Any]:
    params = inspect.signature(fn).parameters
    return {k: v for k, v in optional.items() if k in params and v is not None}


def cancelled_errors() -> tuple[type[BaseException], ...]:
    """The exceptions training raises when should_stop() asked it to stop."""
    from training import loop as train_module

    found = getattr(train_module, "TrainingCancelled", None)
    return (found,) if isinstance(found, type) else ()


def train_flame(
    tasks: Mapping[str, Task],
    examples: Sequence[Example],
    config: TrainConfig,
    out_dir: Path,
    *,
    on_progress=None,
    should_stop=None,
    state_dir: Path | None = None,
    init_checkpoint: Path | str | None = None,
    tokenizer=None,
) -> Path:
    """FLAMe training; from `init_checkpoint` (its weights and tokenizer) when given, else with
    `tokenizer` when given."""
    from training.loop import train

    extra = _supported(
        train,
        state_dir=state_dir,
        should_stop=should_stop,
        init_checkpoint=init_checkpoint or None,
        tokenizer=tokenizer,
    )
    return Path(
        train(tasks, examples, config, out_dir, on_progress=on_progress, **extra).checkpoint_dir
    )


def rm_config(config: TrainConfig, *, steps_chosen: bool) -> TrainConfig:
    """FLAMe-RM is a short fine-tune (training.variants.rm.DEFAULT_RM_STEPS, the paper's 50
    steps) unless the project or the run chose its number of steps; never longer than the
    preset's."""
    from training.variants.rm import DEFAULT_RM_STEPS

    return config if steps_chosen else config.replace(steps=min(DEFAULT_RM_STEPS, config.steps))


def probe_config(config: TrainConfig) -> TrainConfig:
    """A tail-patch probe trains training.variants.tailpatch.DEFAULT_PROBE_STEPS steps at most
    (the run's steps are those of the final FLAMe-Opt-RM training)."""
    from training.variants.tailpatch import DEFAULT_PROBE_STEPS

    return config.replace(steps=min(DEFAULT_PROBE_STEPS, config.steps))


def train_rm(
    base_checkpoint: Path,
    tasks: Mapping[str, Task],
    examples: Sequence[Example],
    config: TrainConfig,
    out_dir: Path,
    *,
    on_progress=None,
    should_stop=None,
    state_dir: Path | None = None,
) -> Path:
    try:
        from training.variants.rm import finetune_rm
    except ImportError as error:
        raise VariantUnavailable(f"FLAMe-RM is not available in this build: {error}") from error
    extra = _supported(finetune_rm, should_stop=should_stop, state_dir=state_dir)
    result = finetune_rm(
        str(base_checkpoint), tasks, examples, config, out_dir, on_progress=on_progress, **extra
    )
    return Path(getattr(result, "checkpoint_dir", out_dir))


# tailpatch_probe puts examples aside by content hash (judging.splits.is_heldout) at this
# percent; probe_examples arranges the project's data around that split.
PROBE_HELDOUT_PERCENT = 20


def probe_examples(
    train_examples: Sequence[Example], heldout: Sequence[Example]
) -> tuple[list[Example], list[str]]:
    """What a tail-patch probe sees, and its target categories (one per task with held-out
    labels). The probe trains on the examples outside the hash held-out side and measures the
    ones inside it, so: the snapshot's examples outside it (the built-in ones inside are not
    the project's judgement) plus the project's held-out labels inside it (a project may have
    put items aside at another percent: those outside are left out, never trained on).

    ValueError when no held-out label is left to measure the probes on."""
    from judging.splits import is_heldout

    measured = [e for e in heldout if is_heldout(e, PROBE_HELDOUT_PERCENT)]
    targets = sorted({e.task for e in measured if e.label is not None})
    if not targets:
        raise ValueError(
            "FLAMe-Opt-RM measures its tail-patch probes on the project's held-out labels, and "
            "none is usable: put some items aside as held-out and label them"
        )
    kept = [e for e in train_examples if not is_heldout(e, PROBE_HELDOUT_PERCENT)]
    return kept + measured, targets


def tailpatch_probe(
    base_checkpoint: Path,
    task_name: str,
    tasks: Mapping[str, Task],
    examples: Sequence[Example],
    config: TrainConfig,
    work_dir: Path,
    *,
    heldout: Sequence[Example] = (),
) -> dict:
    """One task's probe, measured on `heldout` (the project's held-out labels)."""
    try:
        from training.variants.tailpatch import tailpatch_probe as probe
    except ImportError as error:
        raise VariantUnavailable(f"tail-patch probes are not available: {error}") from error
    seen, targets = probe_examples(examples, heldout)
    return probe(
        str(base_checkpoint),
        task_name,
        tasks,
        seen,
        config,
        work_dir,
        targets=targets,
        heldout_percent=PROBE_HELDOUT_PERCENT,
    )


def tailpatch_weights(probe_results: Mapping[str, dict]) -> dict[str, float]:
    try:
        from training.variants.tailpatch_plan import tailpatch_weights as weights
    except ImportError as error:
        raise VariantUnavailable(f"tail-patch weights are not available: {error}") from error
    return {name: float(w) for name, w in weights(dict(probe_results)).items()}


def self_taught_prompts(
    tasks: Mapping[str, Task], examples: Sequence[Example]
) -> tuple[Task, list[str]]:
    """The Self-Taught loop's pairwise task and its unlabelled instructions: of the pairwise
    tasks with one instruction field, the one with the most distinct instructions among
    `examples` (labels unused). ValueError when no task has two."""
    from training.variants.self_taught_writer import instruction_field

    best: tuple[Task, list[str]] | None = None
    for task in tasks.values():
        try:
            field = instruction_field(task)
        except ValueError:
            continue
        texts = [e.context.get(field) for e in examples if e.task == task.name]
        prompts = list(dict.fromkeys(t.strip() for t in texts if isinstance(t, str) and t.strip()))
        if len(prompts) >= 2 and (best is None or len(prompts) > len(best[1])):
            best = (task, prompts)
    if best is None:
        raise ValueError(
            "the Self-Taught loop needs a pairwise task with one instruction field and at least "
            "two distinct instructions among the project's items"
        )
    return best


def train_self_taught(
    base_checkpoint: Path,
    tasks: Mapping[str, Task],
    examples: Sequence[Example],
    config: TrainConfig,
    out_dir: Path,
    *,
    heldout: Sequence[Example] = (),
    rounds: int = 1,
    samples: int = 4,
    should_stop=None,
) -> tuple[Path, dict]:
    """The Self-Taught loop that writes its own pairs (training/variants/self_taught_loop.py)
    from `base_checkpoint` (the writer and the judge) on the project's instructions; the last
    round's judge is copied to `out_dir` (the base's weights when no round kept a pair).
    Returns (out_dir, the loop's report: per round the kept pairs and held-out accuracy)."""
    import shutil

    try:
        from training.variants.self_taught_loop import self_taught_generative
    except ImportError as error:
        raise VariantUnavailable(f"the Self-Taught loop is not available: {error}") from error
    task, prompts = self_taught_prompts(tasks, examples)
    work = Path(out_dir).with_name(Path(out_dir).name + "-self-taught")
    report = self_taught_generative(
        base_checkpoint,
        task,
        prompts,
        config,
        work,
        rounds=rounds,
        samples=samples,
        heldout=heldout,
        heldout_tasks=tasks,
        should_stop=should_stop,
    )
    if Path(out_dir).exists():
        shutil.rmtree(out_dir)
    shutil.copytree(report["final_checkpoint"], out_dir)
    (Path(out_dir) / SELF_TAUGHT_REPORT).write_text(json.dumps(report, indent=2, sort_keys=True))
    return Path(out_dir), report
