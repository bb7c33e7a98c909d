"""Self-Taught Evaluator (arXiv 2408.02666): a judge improved with synthetic preference pairs
whose label is known by construction (training/variants/self_taught_pairs.py).

Each round: the current judge labels every pair in both orders; only pairs where both orders
pick the known label are kept (rejection sampling); kept pairs are balanced so "A is better"
and "B is better" are equally common (the larger side is downsampled); the judge is retrained
on them (by default from the seed checkpoint, as in the paper; or from the previous round),
and its accuracy on held-out human-labelled examples is recorded. Round 0 is the seed.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from evaluation.evaluate import evaluate
from judging.inference import Judge
from judging.task_format import Example, Task
from training.config import TrainConfig
from training.loop import train
from training.variants.common import annotate_checkpoint, check_labels, require_checkpoint
from training.variants.self_taught_pairs import instruction_pool, synthesize_pairs
from training.variants.tailpatch import split_heldout


def filter_and_balance(
    pairs: Sequence[Example], verdicts: Sequence[Any], seed: int = 0
) -> tuple[list[Example], dict[str, int]]:
    """Keep pairs whose verdict picks the known label in *both* orders; downsample the larger
    of "A"/"B" so both are equally common. Returns (balanced pairs, counts)."""
    kept = []
    for pair, verdict in zip(pairs, verdicts, strict=True):
        orders = verdict.order_probabilities
        if not verdict.valid or len(orders) != 2:
            continue
        if all(max(probs, key=probs.__getitem__) == pair.label for probs in orders.values()):
            kept.append(pair)
    by_label = {label: [p for p in kept if p.label == label] for label in ("A", "B")}
    n = min(len(items) for items in by_label.values())
    rng = random.Random(seed)
    balanced = [p for items in by_label.values() for p in rng.sample(items, n)]
    rng.shuffle(balanced)
    counts = {
        "pairs": len(pairs),
        "kept": len(kept),
        "kept_A": len(by_label["A"]),
        "kept_B": len(by_label["B"]),
        "balanced": len(balanced),
    }
    return balanced, counts


def _accuracy(checkpoint: Path, tasks: Mapping[str, Task], heldout: Sequence[Example]) -> dict:
    report = evaluate(Judge.load(checkpoint), tasks, heldout)
    return {
        "accuracy": report["accuracy"],
        "consistency": report["consistency"],
        "invalid": report["invalid"],
        "n": report["n"],
    }


def self_taught(
    seed_checkpoint: str | Path,
    tasks: Mapping[str, Task],
    examples: Sequence[Example],
    config: TrainConfig,
    out_dir: str | Path,
    rounds: int = 3,
    *,
    heldout: Sequence[Example] | None = None,
    heldout_percent: int = 20,
    init: str = "seed",
    top_k: int = 5,
    max_pairs: int | None = None,
    mix_examples: Sequence[Example] = (),
    on_round: Callable[[dict[str, Any]], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> dict[str, Any]:
    """Run `rounds` Self-Taught rounds from `seed_checkpoint`.

    examples: labelled pairwise examples. Without `heldout`, `judging.splits.is_heldout` puts
    part of them aside (by content) for the per-round accuracy and the rest is the instruction
    pool; with `heldout`, all of `examples` is the pool. init: "seed" retrains the seed on each
    round's kept pairs (the paper), "previous" continues from the last round's judge.
    mix_examples: original labelled data added to every round's training set.

    Returns (and writes to OUT_DIR/self_taught.json) {"rounds": [{"round", "accuracy",
    "consistency", "pairs", "kept", "kept_A", "kept_B", "balanced", "checkpoint", ...}],
    "seed_accuracy", "final_accuracy", "final_checkpoint"}."""
    seed_checkpoint = require_checkpoint(seed_checkpoint, "seed checkpoint")
    if rounds < 1:
        raise ValueError("rounds must be >= 1")
    if init not in ("seed", "previous"):
        raise ValueError("init must be 'seed' or 'previous'")
    split = heldout is None
    if heldout is None:
        pool_examples, heldout = split_heldout(examples, heldout_percent)
    else:
        pool_examples = list(examples)
    pool = instruction_pool(tasks, pool_examples)
    if len(pool) < 2:
        raise ValueError(
            "the instruction pool needs >= 2 distinct instructions from labelled pairwise examples"
        )
    pool_tasks = {name: tasks[name] for name in sorted({item.task for item in pool})}
    # A split from `examples` is scored on the pool's (pairwise) tasks; a given held-out set on
    # all of its tasks.
    scored = pool_tasks if split else tasks
    heldout = [e for e in heldout if e.label is not None and e.task in scored]
    if not heldout:
        raise ValueError("no labelled held-out examples to measure accuracy on")
    train_tasks = {**pool_tasks, **{e.task: tasks[e.task] for e in mix_examples}}
    check_labels(seed_checkpoint, train_tasks.values())
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)

    history = [
        {
            "round": 0,
            **_accuracy(seed_checkpoint, tasks, heldout),
            "checkpoint": str(seed_checkpoint.absolute()),
        }
    ]
    if on_round is not None:
        on_round(history[0])
    current = seed_checkpoint
    for number in range(1, rounds + 1):
        pairs = synthesize_pairs(pool, top_k=top_k, seed=config.seed + number, max_pairs=max_pairs)
        verdicts = Judge.load(current).judge(pool_tasks, pairs, both_orders=True)
        balanced, counts = filter_and_balance(pairs, verdicts, seed=config.seed + number)
        entry: dict[str, Any] = {"round": number, **counts}
        training_set = [*balanced, *mix_examples]
        if not training_set:
            # Nothing kept: this round's judge is the previous one.
            entry.update(
                trained=False,
                **_accuracy(current, tasks, heldout),
                checkpoint=str(Path(current).absolute()),
            )
        else:
            result = train(
                train_tasks,
                training_set,
                config.replace(seed=config.seed + number),
                out_dir / f"round-{number}",
                init_checkpoint=seed_checkpoint if init == "seed" else current,
                should_stop=should_stop,
            )
            annotate_checkpoint(
                result.checkpoint_dir,
                {
                    "name": "self-taught",
                    "round": number,
                    "init": init,
                    "seed_checkpoint": str(seed_checkpoint.absolute()),
                    **counts,
                },
            )
            current = result.checkpoint_dir
            entry.update(
                trained=True,
                final_loss=result.final_loss,
                **_accuracy(current, tasks, heldout),
                checkpoint=str(Path(current).absolute()),
            )
        history.append(entry)
        if on_round is not None:
            on_round(entry)
    summary = {
        "rounds": history,
        "seed_accuracy": history[0]["accuracy"],
        "final_accuracy": history[-1]["accuracy"],
        "final_checkpoint": history[-1]["checkpoint"],
        "pool": len(pool),
        "heldout": len(heldout),
        "init": init,
    }
    (out_dir / "self_taught.json").write_text(json.dumps(summary, indent=2, sort_keys=True))
    return summary
