"""ModelConfig: the judge model's sizes and the options of the Hugging Face families.

Re-exported by judging/model.py (which documents the options); kept apart so the model stays
small. Every field has a default, so configs saved by older Ember checkpoints still load.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax

from judging.rope import ROPE_TYPES

LAYER_TYPES = ("full", "sliding")
ACTIVATIONS = {"silu": jax.nn.silu, "gelu_tanh": lambda x: jax.nn.gelu(x, approximate=True)}

_NAMED_SIZES: dict[str, dict[str, Any]] = {
    # ~0.3M params with a 1k vocab: tests, the CPU demo, the learning test. Depth beats width
    # here: on the demo tasks 4 x d64 learned both tasks in 1,200 steps where 2 x d128 and
    # 3 x d128 stayed near chance (measured on 2 CPU cores).
    "tiny": dict(d_model=64, n_layers=4, n_heads=4, n_kv_heads=2, d_ff=256, max_len=256),
    # ~10M params (tied 1k-8k vocab): a CPU afternoon / a GPU minute.
    "small": dict(d_model=384, n_layers=6, n_heads=6, n_kv_heads=2, d_ff=1024, max_len=1024),
}


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    vocab_size: int
    d_model: int = 128
    n_layers: int = 2
    n_heads: int = 4
    n_kv_heads: int = 2
    d_ff: int = 384
    max_len: int = 256
    dropout: float = 0.0
    rope_theta: float = 10000.0
    norm_eps: float = 1e-5
    tie_embeddings: bool = True
    head_dim: int | None = None  # default d_model // n_heads
    qkv_bias: bool = False  # biases on the q/k/v projections (Qwen2)
    # Tied output projection scale; None = d_model ** -0.5 (the built-in sizes, whose embeddings
    # have unit variance), 1.0 for Hugging Face checkpoints. Ignored when embeddings are untied.
    logit_scale: float | None = None
    # Options of the Hugging Face families (see the module docstring); the defaults are Llama's.
    qk_norm: bool = False
    norm_offset: float = 0.0
    sandwich_norms: bool = False
    activation: str = "silu"
    scale_embeddings: bool = False
    query_scale: float | None = None
    attn_softcap: float | None = None
    final_softcap: float | None = None
    sliding_window: int | None = None
    layer_types: tuple[str, ...] | None = None  # None = every layer "full"
    local_rope_theta: float | None = None
    rope_type: str = "default"
    rope_factor: float = 1.0
    rope_low_freq_factor: float = 1.0
    rope_high_freq_factor: float = 4.0
    rope_original_max_len: int = 8192

    def __post_init__(self) -> None:
        if self.layer_types is not None and not isinstance(self.layer_types, tuple):
            object.__setattr__(self, "layer_types", tuple(self.layer_types))  # from JSON lists
        if self.layer_types is not None:
            if len(self.layer_types) != self.n_layers:
                raise ValueError(
                    f"layer_types has {len(self.layer_types)} entries for n_layers={self.n_layers}"
                )
            unknown = sorted(set(self.layer_types) - set(LAYER_TYPES))
            if unknown:
                raise ValueError(f"layer_types: unknown {unknown}; known: {LAYER_TYPES}")
            if "sliding" in self.layer_types and not self.sliding_window:
                raise ValueError("layer_types has sliding layers but sliding_window is not set")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation {self.activation!r}; known: {sorted(ACTIVATIONS)}")
        if self.rope_type not in ROPE_TYPES:
            raise ValueError(f"rope_type {self.rope_type!r}; known: {ROPE_TYPES}")
        if self.n_heads % self.n_kv_heads:
            raise ValueError(
                f"n_heads={self.n_heads} not divisible by n_kv_heads={self.n_kv_heads}"
            )
        if self.head_dim is None and self.d_model % self.n_heads:
            raise ValueError(f"d_model={self.d_model} not divisible by n_heads={self.n_heads}")
        if self.resolved_head_dim % 2:
            raise ValueError("head_dim must be even for rotary embeddings")

    @property
    def resolved_head_dim(self) -> int:
        return self.head_dim if self.head_dim is not None else self.d_model // self.n_heads

    def layer_type(self, i: int) -> str:
        return "full" if self.layer_types is None else self.layer_types[i]

    @classmethod
    def named(cls, name: str, **overrides: Any) -> ModelConfig:
        if name not in _NAMED_SIZES:
            raise ValueError(f"unknown model size {name!r}; known: {sorted(_NAMED_SIZES)}")
        return cls(**{**_NAMED_SIZES[name], **overrides})

    @staticmethod
    def sizes() -> tuple[str, ...]:
        return tuple(_NAMED_SIZES)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise ValueError(f"ModelConfig: unknown fields {sorted(unknown)}")
        return cls(**data)
