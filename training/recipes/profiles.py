"""Recipe profiles: everything a recipe run needs besides its data folder.

A profile's `train` is a TrainConfig: a named preset (training/config.py PRESETS) with typed
overrides, the one way to name a training configuration. quick and default start from the
"demo" preset (the tiny CPU model), accelerator from "flame".
"""

from __future__ import annotations

import dataclasses

from training.config import PRESETS, TrainConfig


@dataclasses.dataclass(frozen=True)
class Profile:
    """Everything a recipe run needs besides its data folder."""

    name: str
    train: TrainConfig  # a preset (training/config.py PRESETS) with typed overrides
    judged_chars: int = 450  # per judged field (responses); the floor when prompt_chars is set
    # Characters of the whole context block; judged fields share what the others leave of it.
    prompt_chars: int | None = None
    context_chars: int = 350  # per background field (passages, documents, stories)
    reference_chars: int = 300
    max_train_per_task: int | None = None  # subsample of each task's training items
    max_eval_per_task: int | None = None  # held-out items per non-pairwise task
    max_eval_pairwise: int | None = None  # held-out items per pairwise task
    demo_per_task: int = 1500
    self_taught_per_task: int = 1000
    # Sentence-level contrasting pairs per pairwise task (self_taught_pairs.perturbed_pairs).
    perturbed_per_task: int = 0
    # Near-identical pairs labelled "tie" per pairwise task that has a tie label
    # (self_taught_pairs.tie_pairs).
    tie_per_task: int = 0
    self_taught_top_k: int = 5
    # Training views per example: view 0 trims judged fields to head and tail (as judged);
    # views 1.. show each long judged field as a different random window of the same size,
    # so the judge reads more of long responses than one fixed cut and cannot memorise it.
    train_views: int = 1
    pairwise_boost: float = 3.0  # mixture weight multiplier of human pairwise tasks
    self_taught_weight: float = 1.0  # multiplier of each self-taught task's weight
    teacher_examples: int = 6000  # LLM-judge items drawn for the teacher recipe
    teacher_scan: int | None = None  # read only the first N teacher records (tests)
    teacher_weight: float = 1.0
    # Teacher records with the judge's rationale (2,245 chain-of-thought judgments) become task
    # alpaca-eval-judgments/preference-llm-judge-cot, trained on the verdict and the rationale
    # (TrainConfig evaluation_block); teacher_explained caps how many (None: all of them).
    teacher_explanations: bool = False
    teacher_explained: int | None = None
    # Tokens the judge may generate for a held-out CoT item's explanation (at most half the
    # window; training gives a rationale longer than that its verdict alone).
    explanation_tokens: int = 160
    bootstrap: int = 1000
    bias: bool = True
    test_percent: int = 20
    dev_percent: int = 10
    budget_minutes: float = 60.0


_TINY_WIDE = {"d_model": 96, "n_layers": 4, "n_heads": 4, "n_kv_heads": 2, "d_ff": 384}

PROFILES: dict[str, Profile] = {
    # Development: minutes on 2 CPU cores.
    "quick": Profile(
        name="quick",
        train=dataclasses.replace(
            PRESETS["demo"],
            model_overrides=_TINY_WIDE,
            steps=300,
            batch_size=16,
            learning_rate=2e-3,
            warmup_steps=30,
            max_len=384,
            vocab_size=2048,
            per_task_cap=1000,
            log_every=25,
            checkpoint_every=0,
        ),
        judged_chars=350,
        context_chars=200,
        reference_chars=200,
        max_train_per_task=400,
        max_eval_per_task=60,
        max_eval_pairwise=150,
        demo_per_task=300,
        self_taught_per_task=200,
        teacher_examples=600,
        teacher_explanations=True,
        bootstrap=200,
        bias=False,
        budget_minutes=5,
    ),
    # The one-hour CPU recipe, sized on the 2-core machine: ~0.6-0.9 CPU-seconds per step
    # (tiny model, 32 rows of <= 256 tokens), so ~30 min of training on an idle machine.
    # The demo preset's batch of 32 at learning rate 3e-3, trained longer on longer prompts.
    "default": Profile(
        name="default",
        train=dataclasses.replace(
            PRESETS["demo"],
            steps=2400,
            warmup_steps=100,
            max_len=320,
            vocab_size=4096,
            per_task_cap=1000,
            checkpoint_every=400,
        ),
        judged_chars=280,
        context_chars=120,
        reference_chars=120,
        max_eval_per_task=300,
        demo_per_task=1500,
        self_taught_per_task=800,
        pairwise_boost=4.0,
        bootstrap=1000,
        budget_minutes=60,
    ),
    # One GPU, 30 minutes: the flame preset's ~10M-parameter "small" model (dropout 0.05,
    # 1,024-token contexts), a bigger batch, a higher learning rate, more steps.
    "accelerator": Profile(
        name="accelerator",
        train=dataclasses.replace(
            PRESETS["flame"],
            steps=12000,
            batch_size=64,
            learning_rate=3e-4,
            warmup_steps=500,
            per_task_cap=4000,
            log_every=100,
            checkpoint_every=1000,
        ),
        judged_chars=200,
        prompt_chars=3600,  # fit_to_window then trims each prompt to 1,024 tokens exactly
        context_chars=1200,
        reference_chars=600,
        demo_per_task=4000,
        self_taught_per_task=3000,
        teacher_examples=30000,
        teacher_explanations=True,
        budget_minutes=30,
    ),
}
