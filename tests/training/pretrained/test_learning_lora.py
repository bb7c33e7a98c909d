"""LEARNING test for LoRA from a pretrained checkpoint: a tiny judge trained from scratch on one
known-answer task (demo_keyword), saved in Hugging Face layout (judging/hf_export.py), is then
LoRA-fine-tuned from that directory (`train --init`, its own tokenizer, adapters only) on
another known-answer task (demo_arithmetic) and learns it: held-out arithmetic accuracy >= 0.8,
from chance (the base never saw arithmetic; asserted below 0.7). Held-out items are split by
content as in tests/training/loop/test_learning.py. Measured on the shared 2-core machine:
held-out arithmetic 0.494 -> 0.885 (n=87), keyword 0.899 -> 0.884; base 146 s + LoRA 169 s
with a benchmark running beside it (slow: minutes).
"""

import sys
import time

import pytest

from evaluation.evaluate import evaluate
from judging.demo_tasks import ARITHMETIC, DEMO_TASKS, KEYWORD, generate_demo_examples
from judging.hf import is_hf_checkpoint
from judging.hf_export import export_hf
from judging.inference import Judge
from judging.splits import content_key, is_heldout
from judging.task_format import render_example
from training.config import TrainConfig
from training.loop import train

ARITHMETIC_THRESHOLD = 0.8


@pytest.mark.slow
def test_lora_from_a_hugging_face_checkpoint_learns_a_new_task(tmp_path):
    tasks = {task.name: task for task in DEMO_TASKS}
    examples = generate_demo_examples(1000, seed=0)
    train_set = [e for e in examples if not is_heldout(e)]
    held_out = list({content_key(e): e for e in examples if is_heldout(e)}.values())
    # One tokenizer for both tasks' texts, as a pretrained model's covers both.
    texts = [render_example(tasks[e.task], e) for e in train_set]
    started = time.monotonic()

    base_config = TrainConfig.preset("demo", steps=500, warmup_steps=30, log_every=100)
    keyword_only = [e for e in train_set if e.task == KEYWORD.name]
    train(
        {KEYWORD.name: KEYWORD}, keyword_only, base_config, tmp_path / "base", tokenizer_texts=texts
    )
    hf_dir = export_hf(tmp_path / "base", tmp_path / "hf")
    assert is_hf_checkpoint(hf_dir)
    before = evaluate(Judge.load(hf_dir), tasks, held_out)["per_task"]
    base_seconds = time.monotonic() - started

    lora_config = TrainConfig.preset(
        "demo",
        steps=400,
        warmup_steps=30,
        log_every=100,
        learning_rate=3e-3,
        lora_rank=8,
        lora_alpha=16.0,  # adapters on the default q, k, v, o; the base frozen in bfloat16
    )
    arithmetic_only = [e for e in train_set if e.task == ARITHMETIC.name]
    result = train(
        {ARITHMETIC.name: ARITHMETIC},
        arithmetic_only,
        lora_config,
        tmp_path / "adapter",
        init_checkpoint=hf_dir,
    )
    after = evaluate(Judge.load(result.checkpoint_dir), tasks, held_out)["per_task"]
    print(
        f"\nLoRA learning test: base (keyword, 500 steps) {base_seconds:.0f}s, "
        f"LoRA (arithmetic, 400 steps) {time.monotonic() - started - base_seconds:.0f}s; "
        f"held-out arithmetic {before[ARITHMETIC.name]['accuracy']:.3f} -> "
        f"{after[ARITHMETIC.name]['accuracy']:.3f} (n={after[ARITHMETIC.name]['n']}), "
        f"keyword {before[KEYWORD.name]['accuracy']:.3f} -> {after[KEYWORD.name]['accuracy']:.3f}",
        file=sys.stderr,
    )
    assert before[ARITHMETIC.name]["accuracy"] < 0.7
    assert after[ARITHMETIC.name]["accuracy"] >= ARITHMETIC_THRESHOLD
