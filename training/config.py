"""TrainConfig: everything a training run needs besides its data, with named presets."""

from __future__ import annotations

import dataclasses
from typing import Any

_PRESETS: dict[str, dict[str, Any]] = {
    # The app's first autorater and the learning test (tests/training/test_learning.py):
    # reaches >= 0.9 held-out accuracy on demo_arithmetic in a few CPU minutes on 2 cores.
    "demo": dict(steps=2000, batch_size=32, learning_rate=3e-3, warmup_steps=50),
    # A handful of steps for integration tests: finishes in seconds after jit.
    "smoke": dict(steps=4, batch_size=8, learning_rate=1e-3, warmup_steps=1, log_every=2,
                  max_len=256),
}


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    model_size: str = "tiny"
    steps: int = 1000
    batch_size: int = 32
    learning_rate: float = 1e-3
    warmup_steps: int = 100
    weight_decay: float = 0.01
    dropout: float = 0.0
    grad_clip: float = 1.0
    seed: int = 0
    swap_probability: float = 0.5
    # Put both orders of each sampled pairwise example in the same batch (a contrastive pair:
    # same content, opposite label), instead of one order drawn with swap_probability.
    # batch_size still counts rows, so a batch then holds batch_size // 2 pairwise examples.
    pair_both_orders: bool = False
    max_len: int = 256
    per_task_cap: int = 2**16
    vocab_size: int = 1024
    log_every: int = 50
    # Explicit mixture weights per task name (None: examples-proportional with the cap).
    mixture_weights: dict[str, float] | None = None
    # Overrides of the named model size's fields (e.g. {"n_layers": 4}).
    model_overrides: dict[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.steps < 1 or self.batch_size < 1:
            raise ValueError("steps and batch_size must be >= 1")
        if not 0.0 <= self.swap_probability <= 1.0:
            raise ValueError("swap_probability must be in [0, 1]")

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> TrainConfig:
        if name not in _PRESETS:
            raise ValueError(f"unknown preset {name!r}; known: {sorted(_PRESETS)}")
        return cls(**{**_PRESETS[name], **overrides})

    @staticmethod
    def presets() -> tuple[str, ...]:
        return tuple(_PRESETS)

    def replace(self, **changes: Any) -> TrainConfig:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise ValueError(f"TrainConfig: unknown fields {sorted(unknown)}")
        return cls(**data)
