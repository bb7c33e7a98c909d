"""The judge model: a Llama-style decoder-only transformer in flax.nnx.

RMSNorm (pre-norm), rotary position embeddings, SwiGLU feed-forward, grouped-query attention
(n_kv_heads divides n_heads), a causal mask combined with a padding mask, optional tied
input/output embeddings and optional q/k/v biases (Qwen2), so Llama, Mistral and Qwen2
checkpoints map onto it (see judging/hf.py). The model holds only `nnx.Param` state; dropout
takes an explicit PRNG key in `__call__` (None = deterministic), so a checkpoint is just the
params.

Incremental decoding: `init_cache` + `forward_cached` run the same blocks over a fixed-size
key/value cache (one slot per token, written at `index`), for greedy generation.

Axis names used in variable suffixes and einsum strings:
    B batch, L sequence length (queries), S sequence length (keys), D model width,
    H attention heads, K key/value heads, G query heads per kv head (H = K * G),
    E head dim, F feed-forward width, V vocabulary, N selected positions per row.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx

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

    def __post_init__(self) -> None:
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


def _dropout(x: jax.Array, rate: float, key: jax.Array | None) -> jax.Array:
    if key is None or rate <= 0.0:
        return x
    keep = jax.random.bernoulli(key, 1.0 - rate, x.shape)
    return jnp.where(keep, x / (1.0 - rate), 0.0).astype(x.dtype)


def _fold(key: jax.Array | None, i: int) -> jax.Array | None:
    return None if key is None else jax.random.fold_in(key, i)


def rope_tables(positions_BL: jax.Array, head_dim: int, theta: float) -> tuple[jax.Array, ...]:
    inv_freq_E2 = 1.0 / (theta ** (jnp.arange(0, head_dim, 2, dtype=jnp.float32) / head_dim))
    angles_BLE2 = positions_BL[..., None].astype(jnp.float32) * inv_freq_E2
    return jnp.sin(angles_BLE2), jnp.cos(angles_BLE2)


def apply_rope(x_BLHE: jax.Array, sin_BLE2: jax.Array, cos_BLE2: jax.Array) -> jax.Array:
    """Rotate pairs (first half, second half) of each head by the position's angles."""
    x1, x2 = jnp.split(x_BLHE, 2, axis=-1)
    sin, cos = sin_BLE2[:, :, None, :], cos_BLE2[:, :, None, :]
    return jnp.concatenate([x1 * cos - x2 * sin, x2 * cos + x1 * sin], axis=-1).astype(x_BLHE.dtype)


class RMSNorm(nnx.Module):
    def __init__(self, dim: int, eps: float) -> None:
        self.scale = nnx.Param(jnp.ones((dim,), jnp.float32))
        self.eps = eps

    def __call__(self, x_BLD: jax.Array) -> jax.Array:
        var_BL1 = jnp.mean(jnp.square(x_BLD.astype(jnp.float32)), axis=-1, keepdims=True)
        return (x_BLD * jax.lax.rsqrt(var_BL1 + self.eps) * self.scale[...]).astype(x_BLD.dtype)


def _dense(rngs: nnx.Rngs, d_in: int, d_out: int, bias: bool = False) -> nnx.Linear:
    return nnx.Linear(
        d_in,
        d_out,
        use_bias=bias,
        rngs=rngs,
        kernel_init=nnx.initializers.normal(stddev=d_in**-0.5),
    )


class Attention(nnx.Module):
    def __init__(self, config: ModelConfig, rngs: nnx.Rngs) -> None:
        e = config.resolved_head_dim
        self.n_heads, self.n_kv_heads, self.head_dim = config.n_heads, config.n_kv_heads, e
        bias = config.qkv_bias
        self.q = _dense(rngs, config.d_model, config.n_heads * e, bias)
        self.k = _dense(rngs, config.d_model, config.n_kv_heads * e, bias)
        self.v = _dense(rngs, config.d_model, config.n_kv_heads * e, bias)
        self.o = _dense(rngs, config.n_heads * e, config.d_model)

    def _qkv(self, x_BLD: jax.Array, sin: jax.Array, cos: jax.Array) -> tuple[jax.Array, ...]:
        b, length, _ = x_BLD.shape
        h, k, e = self.n_heads, self.n_kv_heads, self.head_dim
        q_BLHE = apply_rope(self.q(x_BLD).reshape(b, length, h, e), sin, cos)
        k_BLKE = apply_rope(self.k(x_BLD).reshape(b, length, k, e), sin, cos)
        v_BLKE = self.v(x_BLD).reshape(b, length, k, e)
        return q_BLHE, k_BLKE, v_BLKE

    def __call__(
        self, x_BLD: jax.Array, sin: jax.Array, cos: jax.Array, mask_BLS: jax.Array
    ) -> jax.Array:
        q_BLHE, k_BSKE, v_BSKE = self._qkv(x_BLD, sin, cos)
        return self._attend(q_BLHE, k_BSKE, v_BSKE, mask_BLS, x_BLD.dtype)

    def at(
        self, x_BLD: jax.Array, sin: jax.Array, cos: jax.Array, mask_BLS: jax.Array, index_B
    ) -> jax.Array:
        """The output at one query position per row ([B, 1, D]), attending over all keys."""
        q_BLHE, k_BSKE, v_BSKE = self._qkv(x_BLD, sin, cos)
        q_B1HE = jnp.take_along_axis(q_BLHE, index_B[:, None, None, None], axis=1)
        mask_B1S = jnp.take_along_axis(mask_BLS, index_B[:, None, None], axis=1)
        return self._attend(q_B1HE, k_BSKE, v_BSKE, mask_B1S, x_BLD.dtype)

    def cached(
        self,
        x_BLD: jax.Array,
        sin: jax.Array,
        cos: jax.Array,
        mask_BLS: jax.Array,
        k_cache_BSKE: jax.Array,
        v_cache_BSKE: jax.Array,
        index: jax.Array,
    ) -> tuple[jax.Array, jax.Array, jax.Array]:
        """Write this chunk's keys/values at cache slots index..index+L, attend over the cache."""
        q_BLHE, k_BLKE, v_BLKE = self._qkv(x_BLD, sin, cos)
        k_cache_BSKE = jax.lax.dynamic_update_slice_in_dim(
            k_cache_BSKE, k_BLKE.astype(k_cache_BSKE.dtype), index, axis=1
        )
        v_cache_BSKE = jax.lax.dynamic_update_slice_in_dim(
            v_cache_BSKE, v_BLKE.astype(v_cache_BSKE.dtype), index, axis=1
        )
        out = self._attend(q_BLHE, k_cache_BSKE, v_cache_BSKE, mask_BLS, x_BLD.dtype)
        return out, k_cache_BSKE, v_cache_BSKE

    def _attend(self, q_BLHE, k_BSKE, v_BSKE, mask_BLS, dtype) -> jax.Array:
        b, length, h, e = q_BLHE.shape
        k = self.n_kv_heads
        g = h // k
        q_BLKGE = q_BLHE.reshape(b, length, k, g, e)
        logits_BKGLS = jnp.einsum("blkge,bske->bkgls", q_BLKGE, k_BSKE) * (e**-0.5)
        logits_BKGLS = jnp.where(mask_BLS[:, None, None], logits_BKGLS, -1e9)
        probs_BKGLS = jax.nn.softmax(logits_BKGLS.astype(jnp.float32), axis=-1).astype(dtype)
        out_BLKGE = jnp.einsum("bkgls,bske->blkge", probs_BKGLS, v_BSKE)
        return self.o(out_BLKGE.reshape(b, length, h * e))


class SwiGLU(nnx.Module):
    def __init__(self, config: ModelConfig, rngs: nnx.Rngs) -> None:
        self.gate = _dense(rngs, config.d_model, config.d_ff)
        self.up = _dense(rngs, config.d_model, config.d_ff)
        self.down = _dense(rngs, config.d_ff, config.d_model)

    def __call__(self, x_BLD: jax.Array) -> jax.Array:
        return self.down(jax.nn.silu(self.gate(x_BLD)) * self.up(x_BLD))


class Block(nnx.Module):
    def __init__(self, config: ModelConfig, rngs: nnx.Rngs) -> None:
        self.attn_norm = RMSNorm(config.d_model, config.norm_eps)
        self.attn = Attention(config, rngs)
        self.ff_norm = RMSNorm(config.d_model, config.norm_eps)
        self.ff = SwiGLU(config, rngs)
        self.dropout = config.dropout

    def __call__(self, x_BLD, sin, cos, mask_BLS, key: jax.Array | None) -> jax.Array:
        h = self.attn(self.attn_norm(x_BLD), sin, cos, mask_BLS)
        x_BLD = x_BLD + _dropout(h, self.dropout, _fold(key, 0))
        h = self.ff(self.ff_norm(x_BLD))
        return x_BLD + _dropout(h, self.dropout, _fold(key, 1))

    def at(self, x_BLD, sin, cos, mask_BLS, index_B, key: jax.Array | None) -> jax.Array:
        """`__call__` at one position per row ([B, 1, D]): the other positions' outputs are
        never needed after the last block, so they are not computed."""
        h = self.attn.at(self.attn_norm(x_BLD), sin, cos, mask_BLS, index_B)
        x_B1D = jnp.take_along_axis(x_BLD, index_B[:, None, None], axis=1)
        x_B1D = x_B1D + _dropout(h, self.dropout, _fold(key, 0))
        h = self.ff(self.ff_norm(x_B1D))
        return x_B1D + _dropout(h, self.dropout, _fold(key, 1))

    def cached(self, x_BLD, sin, cos, mask_BLS, k_cache, v_cache, index):
        h, k_cache, v_cache = self.attn.cached(
            self.attn_norm(x_BLD), sin, cos, mask_BLS, k_cache, v_cache, index
        )
        x_BLD = x_BLD + h
        return x_BLD + self.ff(self.ff_norm(x_BLD)), k_cache, v_cache


class Decoder(nnx.Module):
    """Decoder-only judge. `__call__(tokens_BL, attention_mask_BL=None) -> logits_BLV`."""

    def __init__(self, config: ModelConfig, *, rngs: nnx.Rngs) -> None:
        self.config = config
        self.embed = nnx.Embed(
            config.vocab_size,
            config.d_model,
            rngs=rngs,
            embedding_init=nnx.initializers.normal(stddev=1.0),
        )
        self.blocks = nnx.List([Block(config, rngs) for _ in range(config.n_layers)])
        self.final_norm = RMSNorm(config.d_model, config.norm_eps)
        self.lm_head = (
            None if config.tie_embeddings else _dense(rngs, config.d_model, config.vocab_size)
        )

    def hidden(
        self,
        tokens_BL: jax.Array,
        attention_mask_BL: jax.Array | None = None,
        positions_BL: jax.Array | None = None,
        dropout_key: jax.Array | None = None,
    ) -> jax.Array:
        """Final-normed hidden states. attention_mask_BL: 1 for real tokens, 0 for padding."""
        x_BLD, sin, cos, mask_BLS = self._inputs(
            tokens_BL, attention_mask_BL, positions_BL, dropout_key
        )
        for i, block in enumerate(self.blocks):
            x_BLD = block(x_BLD, sin, cos, mask_BLS, _fold(dropout_key, i))
        return self.final_norm(x_BLD)

    def _inputs(self, tokens_BL, attention_mask_BL, positions_BL, dropout_key):
        """Embeddings, rotary tables and the causal+padding mask of a forward pass."""
        b, length = tokens_BL.shape
        if attention_mask_BL is None:
            attention_mask_BL = jnp.ones((b, length), dtype=bool)
        attention_mask_BL = attention_mask_BL.astype(bool)
        if positions_BL is None:
            # Positions count real tokens, so left and right padding both work.
            positions_BL = jnp.maximum(jnp.cumsum(attention_mask_BL, axis=-1) - 1, 0)
        causal_LS = jnp.tril(jnp.ones((length, length), dtype=bool))
        mask_BLS = causal_LS[None] & attention_mask_BL[:, None, :]
        # A padded query row would see no key; let it see itself to keep softmax finite.
        mask_BLS = mask_BLS | jnp.eye(length, dtype=bool)[None]
        sin, cos = rope_tables(positions_BL, self.config.resolved_head_dim, self.config.rope_theta)
        x_BLD = self.embed(tokens_BL)  # unit-variance embeddings (std 1 at init)
        x_BLD = _dropout(x_BLD, self.config.dropout, _fold(dropout_key, 10_000))
        return x_BLD, sin, cos, mask_BLS

    def project(self, hidden_XD: jax.Array) -> jax.Array:
        """Hidden states (any leading axes) -> vocabulary logits."""
        if self.lm_head is None:
            scale = self.config.logit_scale
            scale = self.config.d_model**-0.5 if scale is None else scale
            logits = self.embed.attend(hidden_XD)
            return logits if scale == 1.0 else logits * scale
        return self.lm_head(hidden_XD)

    def init_cache(
        self, batch: int, length: int, dtype: Any = jnp.float32
    ) -> tuple[jax.Array, jax.Array]:
        """Empty key/value caches, each [n_layers, B, S, K, E]."""
        c = self.config
        shape = (c.n_layers, batch, length, c.n_kv_heads, c.resolved_head_dim)
        return jnp.zeros(shape, dtype), jnp.zeros(shape, dtype)

    def forward_cached(
        self,
        tokens_BL: jax.Array,
        positions_BL: jax.Array,
        valid_BS: jax.Array,
        k_cache: jax.Array,
        v_cache: jax.Array,
        index: jax.Array,
    ) -> tuple[jax.Array, jax.Array, jax.Array]:
        """Run L new tokens occupying cache slots index..index+L-1.

        valid_BS marks the cache slots that hold real tokens (including the new ones); a query at
        slot s sees the valid slots <= s. Returns (final-normed hidden [B, L, D], caches).
        """
        _, length = tokens_BL.shape
        slots = valid_BS.shape[1]
        query_slot_L = index + jnp.arange(length)
        key_slot_S = jnp.arange(slots)
        causal_LS = key_slot_S[None, :] <= query_slot_L[:, None]
        mask_BLS = causal_LS[None] & valid_BS[:, None, :].astype(bool)
        mask_BLS = mask_BLS | (key_slot_S[None, :] == query_slot_L[:, None])[None]
        sin, cos = rope_tables(positions_BL, self.config.resolved_head_dim, self.config.rope_theta)
        x_BLD = self.embed(tokens_BL)
        new_k, new_v = [], []
        for i, block in enumerate(self.blocks):
            x_BLD, k_i, v_i = block.cached(x_BLD, sin, cos, mask_BLS, k_cache[i], v_cache[i], index)
            new_k.append(k_i)
            new_v.append(v_i)
        return self.final_norm(x_BLD), jnp.stack(new_k), jnp.stack(new_v)

    def __call__(
        self,
        tokens_BL: jax.Array,
        attention_mask_BL: jax.Array | None = None,
        positions_BL: jax.Array | None = None,
        dropout_key: jax.Array | None = None,
    ) -> jax.Array:
        return self.project(self.hidden(tokens_BL, attention_mask_BL, positions_BL, dropout_key))

    def logits_at(
        self,
        tokens_BL: jax.Array,
        index_B: jax.Array,
        attention_mask_BL: jax.Array | None = None,
        dropout_key: jax.Array | None = None,
    ) -> jax.Array:
        """Logits at one position per row (e.g. the last prompt token): [B, V]. The last block
        runs only at those positions (same numbers as `__call__`, a layer's work less)."""
        return self.logits_at_with_hidden(tokens_BL, index_B, attention_mask_BL, 0, dropout_key)[0]

    def logits_at_with_hidden(
        self,
        tokens_BL: jax.Array,
        index_B: jax.Array,
        attention_mask_BL: jax.Array | None,
        rows: int,
        dropout_key: jax.Array | None = None,
    ) -> tuple[jax.Array, jax.Array | None]:
        """`logits_at`, and the final-normed hidden states of the first `rows` rows at every
        position ([rows, L, D], as `hidden` gives them), sharing the blocks below the last."""
        x_BLD, sin, cos, mask_BLS = self._inputs(tokens_BL, attention_mask_BL, None, dropout_key)
        last = len(self.blocks) - 1
        for i in range(last):
            x_BLD = self.blocks[i](x_BLD, sin, cos, mask_BLS, _fold(dropout_key, i))
        block, key = self.blocks[last], _fold(dropout_key, last)
        x_B1D = block.at(x_BLD, sin, cos, mask_BLS, index_B, key)
        logits_BV = self.project(self.final_norm(x_B1D)[:, 0])
        if not rows:
            return logits_BV, None
        r = slice(0, rows)
        hidden_RLD = self.final_norm(block(x_BLD[r], sin[r], cos[r], mask_BLS[r], key))
        return logits_BV, hidden_RLD


def count_params(model: nnx.Module) -> int:
    return sum(x.size for x in jax.tree.leaves(nnx.state(model, nnx.Param)))
