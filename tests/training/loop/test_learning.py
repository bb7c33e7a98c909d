"""THE learning test: the demo preset learns both known-answer demo tasks on a CPU.

Held-out items have ids disjoint from the training items. Note that the demo task spaces are
small (55 single-digit sums x near-miss distractors; 24 words x sentence templates), so
held-out items often share content with training items: this shows the training loop learns the
tasks end to end (tokenizer, mixture, swap augmentation, loss, checkpoint, Judge), not
generalisation to unseen kinds of question. The split is by content (either response order):
a held-out arithmetic item asks a sum the model trained on, but with a distractor pairing it
never saw.
"""

import sys
import time

import pytest

from evaluation.evaluate import evaluate
from judging.demo_tasks import ARITHMETIC, DEMO_TASKS, KEYWORD, generate_demo_examples
from judging.inference import Judge
from judging.splits import content_key, is_heldout
from training.config import TrainConfig
from training.loop import train


@pytest.mark.slow
def test_demo_preset_learns_the_demo_tasks(tmp_path):
    tasks = {task.name: task for task in DEMO_TASKS}
    examples = generate_demo_examples(1000, seed=0)
    # Held out by content (either response order), one item per distinct content: every
    # scored item is one the model never saw in any order.
    train_set = [e for e in examples if not is_heldout(e)]
    held_out = list({content_key(e): e for e in examples if is_heldout(e)}.values())
    assert not {content_key(e) for e in held_out} & {content_key(e) for e in train_set}
    assert min(sum(e.task == t.name for e in held_out) for t in DEMO_TASKS) >= 40

    config = TrainConfig.preset("demo")
    started = time.monotonic()
    result = train(tasks, train_set, config, tmp_path / "demo")
    train_seconds = time.monotonic() - started
    report = evaluate(Judge.load(result.checkpoint_dir), tasks, held_out)
    total_seconds = time.monotonic() - started

    arithmetic = report["per_task"][ARITHMETIC.name]
    keyword = report["per_task"][KEYWORD.name]
    print(
        f"\nlearning test: {config.steps} steps, train {train_seconds:.0f}s, "
        f"total {total_seconds:.0f}s, final loss {result.final_loss:.3f}, "
        f"held-out arithmetic {arithmetic['accuracy']:.3f} (n={arithmetic['n']}), "
        f"keyword {keyword['accuracy']:.3f} (n={keyword['n']}), "
        f"consistency {report['consistency']:.3f}, invalid {report['invalid']}",
        file=sys.stderr,
    )
    assert arithmetic["accuracy"] >= 0.9
    assert keyword["accuracy"] >= 0.85
    assert report["invalid"] == 0
