"""The Self-Taught Evaluator loop as the paper runs it (arXiv 2408.02666): it writes its own
pairs from unlabelled instructions (training/variants/self_taught_writer.py).

Each round, with the current judge (or a configured generator checkpoint) as the writer:
for each instruction x a modified instruction x' is written and both are answered; the answer
to x' is the worse response. The current judge samples N judgments (verdict + explanation) of
each pair at a temperature; only pairs with a correct sampled verdict are kept (one correct
judgment each, at random), balanced A/B, and the judge is retrained on them with the whole
EVALUATION block as the target (its verdict and its own reasoning; TrainConfig
evaluation_block), from the seed (the paper) or the previous round's judge. Held-out
labelled examples, if given, measure each round. The borrowing variant (the worse response
borrowed from a similar instruction of a labelled set) stays in self_taught.py.

Report (OUT/self_taught.json): per round the counts (prompts, written, pairs,
judgments_sampled, judgments_correct, kept, kept_A, kept_B, balanced), the kept pairs' file
(OUT/round-N/kept_pairs.jsonl), a few kept pairs shown in full, the held-out accuracy, and the
checkpoint.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from judging.inference import Judge
from judging.task_format import Example, Task, write_jsonl
from training.config import TrainConfig
from training.loop import train
from training.variants.common import annotate_checkpoint, check_labels, require_checkpoint
from training.variants.self_taught import _accuracy
from training.variants.self_taught_writer import (
    Writer,
    instruction_field,
    keep_correct,
    pair_examples,
    sample_judgments,
    write_pairs,
)


def _shown(example: Example, field: str) -> dict[str, Any]:
    return {
        "instruction": example.context[field],
        "written_instruction": example.provenance["self_taught"]["written_instruction"],
        "response A": example.context["response A"],
        "response B": example.context["response B"],
        "label": example.label,
        "outputs": example.outputs,
    }


def self_taught_generative(
    seed_checkpoint: str | Path,
    task: Task,
    instructions: Sequence[str],
    config: TrainConfig,
    out_dir: str | Path,
    rounds: int = 1,
    *,
    writer_checkpoint: str | Path | None = None,
    samples: int = 4,
    judge_temperature: float = 1.0,
    writer_temperature: float = 0.8,
    max_new_tokens: int = 48,
    heldout: Sequence[Example] = (),
    heldout_tasks: Mapping[str, Task] | None = None,
    init: str = "seed",
    on_round: Callable[[dict[str, Any]], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> dict[str, Any]:
    """Run `rounds` generative Self-Taught rounds from `seed_checkpoint` on the pairwise
    `task` (one instruction field, the responses, labels including A and B; a later output
    field such as "explanation" receives the sampled reasoning). `instructions`: unlabelled
    prompts. writer_checkpoint: None = the current judge writes. Returns the report."""
    seed_checkpoint = require_checkpoint(seed_checkpoint, "seed checkpoint")
    field = instruction_field(task)
    if rounds < 1 or samples < 1:
        raise ValueError("rounds and samples must be >= 1")
    if init not in ("seed", "previous"):
        raise ValueError("init must be 'seed' or 'previous'")
    prompts = list(dict.fromkeys(p.strip() for p in instructions if p and p.strip()))
    if len(prompts) < 2:
        raise ValueError("the Self-Taught loop needs >= 2 distinct non-empty instructions")
    check_labels(seed_checkpoint, [task])
    scored = dict(heldout_tasks or {task.name: task})
    heldout = [e for e in heldout if e.label is not None and e.task in scored]
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    fixed_writer = Judge.load(writer_checkpoint).loaded if writer_checkpoint else None

    def measure(checkpoint: Path) -> dict[str, Any]:
        return _accuracy(checkpoint, scored, heldout) if heldout else {"accuracy": None}

    history: list[dict[str, Any]] = [
        {"round": 0, **measure(seed_checkpoint), "checkpoint": str(seed_checkpoint.absolute())}
    ]
    if on_round is not None:
        on_round(history[0])
    current = seed_checkpoint
    for number in range(1, rounds + 1):
        seed = config.seed + 1000 * number
        judge = Judge.load(current).loaded
        writer = Writer(fixed_writer or judge, max_new_tokens, writer_temperature)
        ids = [f"p{i}" for i in range(len(prompts))]
        pairs, counts = write_pairs(writer, prompts, seed, ids)
        examples = pair_examples(task, pairs, seed, number)
        judgments = sample_judgments(
            judge,
            task,
            examples,
            samples,
            temperature=judge_temperature,
            max_new_tokens=max_new_tokens,
            seed=seed + 3,
        )
        kept, kept_counts = keep_correct(task, examples, judgments, seed + 4)
        round_dir = out_dir / f"round-{number}"
        round_dir.mkdir(parents=True, exist_ok=True)
        write_jsonl(round_dir / "kept_pairs.jsonl", [task], kept)
        entry: dict[str, Any] = {
            "round": number,
            **counts,
            **kept_counts,
            "kept_pairs_file": str((round_dir / "kept_pairs.jsonl").absolute()),
            "kept_pairs_shown": [_shown(e, field) for e in kept[:3]],
            "writer": str(writer_checkpoint) if writer_checkpoint else "the current judge",
        }
        if not kept:
            entry.update(trained=False, **measure(current), checkpoint=str(current.absolute()))
        else:
            result = train(
                {task.name: task},
                kept,
                config.replace(seed=seed, evaluation_block=True),
                round_dir / "judge",
                init_checkpoint=seed_checkpoint if init == "seed" else current,
                should_stop=should_stop,
            )
            annotate_checkpoint(
                result.checkpoint_dir,
                {
                    "name": "self-taught-generative",
                    "round": number,
                    "init": init,
                    "seed_checkpoint": str(seed_checkpoint.absolute()),
                    **counts,
                    **kept_counts,
                },
            )
            current = Path(result.checkpoint_dir)
            entry.update(
                trained=True,
                final_loss=result.final_loss,
                **measure(current),
                checkpoint=str(current.absolute()),
            )
        history.append(entry)
        if on_round is not None:
            on_round(entry)
    summary = {
        "mode": "generative",
        "rounds": history,
        "seed_accuracy": history[0]["accuracy"],
        "final_accuracy": history[-1]["accuracy"],
        "final_checkpoint": history[-1]["checkpoint"],
        "prompts": len(prompts),
        "heldout": len(heldout),
        "samples": samples,
        "init": init,
    }
    (out_dir / "self_taught.json").write_text(json.dumps(summary, indent=2, sort_keys=True))
    return summary
