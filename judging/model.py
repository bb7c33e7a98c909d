"""The judge model: a Llama-style decoder-only transformer in flax.nnx.

RMSNorm (pre-norm), rotary position embeddings (judging/rope.py), a gated feed-forward (SwiGLU,
or GeGLU for Gemma), grouped-query attention (n_kv_heads divides n_heads) through
`jax.nn.dot_product_attention` with causal, padding and sliding-window masks
(judging/attention.py), optional tied input/output embeddings, and the options the supported
Hugging Face families need (judging/hf.py maps their checkpoints onto it):

    qkv_bias          biases on the q/k/v projections (Qwen2)
    qk_norm           RMSNorm over each head of q and k before the rotation (Qwen3, Gemma 3)
    norm_offset       RMSNorm scale = norm_offset + weight, normalised in float32 (Gemma: 1.0)
    sandwich_norms    norms after attention and after the feed-forward too (Gemma 2/3)
    activation        "silu" (SwiGLU) or "gelu_tanh" (GeGLU, Gemma)
    scale_embeddings  embeddings times sqrt(d_model), in the compute dtype (Gemma)
    query_scale       score scale (None = head_dim ** -0.5; Gemma: query_pre_attn_scalar ** -0.5)
    attn_softcap      cap * tanh(scores / cap) before the softmax (Gemma 2)
    final_softcap     the same on the output logits (Gemma 2)
    layer_types       "full" or "sliding" per layer; sliding layers see `sliding_window` keys
    local_rope_theta  the sliding layers' rope base, unscaled (Gemma 3)
    rope_type ...     rope scaling of the (global) rotary embedding: linear, llama3

The model holds only `nnx.Param` state; dropout takes an explicit PRNG key in `__call__`
(None = deterministic), so a checkpoint is just the params.

Incremental decoding: `init_cache` + `forward_cached` run the same blocks over a fixed-size
key/value cache (one slot per token, written at `index`), for greedy generation.

Axis names used in variable suffixes and einsum strings:
    B batch, L sequence length (queries), S sequence length (keys), D model width,
    H attention heads, K key/value heads, G query heads per kv head (H = K * G),
    E head dim, F feed-forward width, V vocabulary, N selected positions per row.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from judging.attention import attend, attention_mask
from judging.model_config import ACTIVATIONS, ModelConfig
from judging.rope import apply_rope, inverse_frequencies, rope_tables

__all__ = ["Block", "Decoder", "ModelConfig", "RMSNorm", "count_params"]


def _dropout(x: jax.Array, rate: float, key: jax.Array | None) -> jax.Array:
    if key is None or rate <= 0.0:
        return x
    keep = jax.random.bernoulli(key, 1.0 - rate, x.shape)
    return jnp.where(keep, x / (1.0 - rate), 0.0).astype(x.dtype)


def _fold(key: jax.Array | None, i: int) -> jax.Array | None:
    return None if key is None else jax.random.fold_in(key, i)


class RMSNorm(nnx.Module):
    """x / rms(x) * (offset + scale). offset 0 (Llama; scale starts at 1): normalised in float32,
    cast back, then scaled; offset 1 (Gemma; scale starts at 0): scaled in float32, then cast."""

    def __init__(self, dim: int, eps: float, offset: float = 0.0) -> None:
        init = jnp.zeros if offset else jnp.ones
        self.scale = nnx.Param(init((dim,), jnp.float32))
        self.eps = eps
        self.offset = offset

    def __call__(self, x_BLD: jax.Array) -> jax.Array:
        x32 = x_BLD.astype(jnp.float32)
        normed = x32 * jax.lax.rsqrt(jnp.mean(jnp.square(x32), axis=-1, keepdims=True) + self.eps)
        if self.offset:
            scale = self.offset + self.scale[...].astype(jnp.float32)
            return (normed * scale).astype(x_BLD.dtype)
        return (normed.astype(x_BLD.dtype) * self.scale[...]).astype(x_BLD.dtype)


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
        self.scale = config.query_scale if config.query_scale is not None else e**-0.5
        self.softcap = config.attn_softcap
        bias = config.qkv_bias
        self.q = _dense(rngs, config.d_model, config.n_heads * e, bias)
        self.k = _dense(rngs, config.d_model, config.n_kv_heads * e, bias)
        self.v = _dense(rngs, config.d_model, config.n_kv_heads * e, bias)
        self.o = _dense(rngs, config.n_heads * e, config.d_model)
        if config.qk_norm:
            self.q_norm = RMSNorm(e, config.norm_eps, config.norm_offset)
            self.k_norm = RMSNorm(e, config.norm_eps, config.norm_offset)
        else:
            self.q_norm = self.k_norm = None

    def _qkv(self, x_BLD: jax.Array, sin: jax.Array, cos: jax.Array) -> tuple[jax.Array, ...]:
        b, length, _ = x_BLD.shape
        h, k, e = self.n_heads, self.n_kv_heads, self.head_dim
        q_BLHE = self.q(x_BLD).reshape(b, length, h, e)
        k_BLKE = self.k(x_BLD).reshape(b, length, k, e)
        if self.q_norm is not None:
            q_BLHE, k_BLKE = self.q_norm(q_BLHE), self.k_norm(k_BLKE)
        v_BLKE = self.v(x_BLD).reshape(b, length, k, e)
        return apply_rope(q_BLHE, sin, cos), apply_rope(k_BLKE, sin, cos), v_BLKE

    def __call__(
        self, x_BLD: jax.Array, sin: jax.Array, cos: jax.Array, mask_BLS: jax.Array
    ) -> jax.Array:
        q_BLHE, k_BSKE, v_BSKE = self._qkv(x_BLD, sin, cos)
        return self._attend(q_BLHE, k_BSKE, v_BSKE, mask_BLS)

    def at(
        self, x_BLD: jax.Array, sin: jax.Array, cos: jax.Array, mask_BLS: jax.Array, index_B
    ) -> jax.Array:
        """The output at one query position per row ([B, 1, D]), attending over all keys."""
        q_BLHE, k_BSKE, v_BSKE = self._qkv(x_BLD, sin, cos)
        q_B1HE = jnp.take_along_axis(q_BLHE, index_B[:, None, None, None], axis=1)
        mask_B1S = jnp.take_along_axis(mask_BLS, index_B[:, None, None], axis=1)
        return self._attend(q_B1HE, k_BSKE, v_BSKE, mask_B1S)

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
        out = self._attend(q_BLHE, k_cache_BSKE, v_cache_BSKE, mask_BLS)
        return out, k_cache_BSKE, v_cache_BSKE

    def _attend(self, q_BLHE, k_BSKE, v_BSKE, mask_BLS) -> jax.Array:
        b, length, h, e = q_BLHE.shape
        out_BLHE = attend(q_BLHE, k_BSKE, v_BSKE, mask_BLS, scale=self.scale, softcap=self.softcap)
        return self.o(out_BLHE.reshape(b, length, h * e))


class GatedFeedForward(nnx.Module):
    """down(act(gate(x)) * up(x)): SwiGLU (silu) or GeGLU (tanh-approximated gelu)."""

    def __init__(self, config: ModelConfig, rngs: nnx.Rngs) -> None:
        self.gate = _dense(rngs, config.d_model, config.d_ff)
        self.up = _dense(rngs, config.d_model, config.d_ff)
        self.down = _dense(rngs, config.d_ff, config.d_model)
        self.activation = config.activation

    def __call__(self, x_BLD: jax.Array) -> jax.Array:
        return self.down(ACTIVATIONS[self.activation](self.gate(x_BLD)) * self.up(x_BLD))


class Block(nnx.Module):
    """Pre-norm residual block; with sandwich norms (Gemma) the attention and feed-forward
    outputs are normed again before their residual add."""

    def __init__(self, config: ModelConfig, rngs: nnx.Rngs) -> None:
        d, eps, offset = config.d_model, config.norm_eps, config.norm_offset
        self.attn_norm = RMSNorm(d, eps, offset)
        self.attn = Attention(config, rngs)
        self.ff_norm = RMSNorm(d, eps, offset)
        self.ff = GatedFeedForward(config, rngs)
        if config.sandwich_norms:
            self.attn_post_norm = RMSNorm(d, eps, offset)
            self.ff_post_norm = RMSNorm(d, eps, offset)
        else:
            self.attn_post_norm = self.ff_post_norm = None
        self.dropout = config.dropout

    def _post(self, norm: RMSNorm | None, h: jax.Array) -> jax.Array:
        return h if norm is None else norm(h)

    def _ff(self, x_BLD: jax.Array, key: jax.Array | None) -> jax.Array:
        h = self._post(self.ff_post_norm, self.ff(self.ff_norm(x_BLD)))
        return x_BLD + _dropout(h, self.dropout, _fold(key, 1))

    def __call__(self, x_BLD, sin, cos, mask_BLS, key: jax.Array | None) -> jax.Array:
        h = self._post(self.attn_post_norm, self.attn(self.attn_norm(x_BLD), sin, cos, mask_BLS))
        x_BLD = x_BLD + _dropout(h, self.dropout, _fold(key, 0))
        return self._ff(x_BLD, key)

    def at(self, x_BLD, sin, cos, mask_BLS, index_B, key: jax.Array | None) -> jax.Array:
        """`__call__` at one position per row ([B, 1, D]): the other positions' outputs are
        never needed after the last block, so they are not computed."""
        h = self.attn.at(self.attn_norm(x_BLD), sin, cos, mask_BLS, index_B)
        h = self._post(self.attn_post_norm, h)
        x_B1D = jnp.take_along_axis(x_BLD, index_B[:, None, None], axis=1)
        x_B1D = x_B1D + _dropout(h, self.dropout, _fold(key, 0))
        return self._ff(x_B1D, key)

    def cached(self, x_BLD, sin, cos, mask_BLS, k_cache, v_cache, index):
        h, k_cache, v_cache = self.attn.cached(
            self.attn_norm(x_BLD), sin, cos, mask_BLS, k_cache, v_cache, index
        )
        x_BLD = x_BLD + self._post(self.attn_post_norm, h)
        return self._ff(x_BLD, None), k_cache, v_cache


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
        self.final_norm = RMSNorm(config.d_model, config.norm_eps, config.norm_offset)
        self.lm_head = (
            None if config.tie_embeddings else _dense(rngs, config.d_model, config.vocab_size)
        )

    def _rope(self, layer_type: str) -> np.ndarray:
        c, e = self.config, self.config.resolved_head_dim
        if layer_type == "sliding" and c.local_rope_theta is not None:
            return inverse_frequencies(e, c.local_rope_theta)
        return inverse_frequencies(
            e,
            c.rope_theta,
            c.rope_type,
            c.rope_factor,
            c.rope_low_freq_factor,
            c.rope_high_freq_factor,
            c.rope_original_max_len,
        )

    def _layer_inputs(
        self, query_pos_BL, key_pos_BS, key_valid_BS, causal_LS, self_LS
    ) -> dict[str, tuple[jax.Array, jax.Array, jax.Array]]:
        """(sin, cos, mask) for each layer type in use: "sliding" layers see only the window
        (and, in Gemma 3, rotate with their own rope base)."""
        out = {}
        for layer_type in sorted({self.config.layer_type(i) for i in range(self.config.n_layers)}):
            window = self.config.sliding_window if layer_type == "sliding" else None
            mask_BLS = attention_mask(
                query_pos_BL, key_pos_BS, key_valid_BS, causal_LS, self_LS, window
            )
            sin, cos = rope_tables(query_pos_BL, self._rope(layer_type))
            out[layer_type] = (sin, cos, mask_BLS)
        return out

    def _embed(self, tokens_BL: jax.Array) -> jax.Array:
        # Unit-variance embeddings (std 1 at init), in the table's own dtype: nnx.Embed would
        # cast to the dtype it was built with (float32), turning a bf16 model's compute to fp32.
        x_BLD = jnp.take(self.embed.embedding[...], tokens_BL, axis=0)
        if self.config.scale_embeddings:  # Gemma: sqrt(d_model) rounded to the compute dtype
            x_BLD = x_BLD * jnp.asarray(self.config.d_model**0.5, dtype=x_BLD.dtype)
        return x_BLD

    def hidden(
        self,
        tokens_BL: jax.Array,
        attention_mask_BL: jax.Array | None = None,
        positions_BL: jax.Array | None = None,
        dropout_key: jax.Array | None = None,
    ) -> jax.Array:
        """Final-normed hidden states. attention_mask_BL: 1 for real tokens, 0 for padding."""
        x_BLD, layers = self._inputs(tokens_BL, attention_mask_BL, positions_BL, dropout_key)
        for i, block in enumerate(self.blocks):
            x_BLD = block(x_BLD, *layers[self.config.layer_type(i)], _fold(dropout_key, i))
        return self.final_norm(x_BLD)

    def _inputs(self, tokens_BL, attention_mask_BL, positions_BL, dropout_key):
        """Embeddings and each layer type's rotary tables and causal+padding(+window) mask."""
        b, length = tokens_BL.shape
        if attention_mask_BL is None:
            attention_mask_BL = jnp.ones((b, length), dtype=bool)
        attention_mask_BL = attention_mask_BL.astype(bool)
        if positions_BL is None:
            # Positions count real tokens, so left and right padding both work.
            positions_BL = jnp.maximum(jnp.cumsum(attention_mask_BL, axis=-1) - 1, 0)
        causal_LS = jnp.tril(jnp.ones((length, length), dtype=bool))
        self_LS = jnp.eye(length, dtype=bool)
        layers = self._layer_inputs(
            positions_BL, positions_BL, attention_mask_BL, causal_LS, self_LS
        )
        x_BLD = _dropout(self._embed(tokens_BL), self.config.dropout, _fold(dropout_key, 10_000))
        return x_BLD, layers

    def project(self, hidden_XD: jax.Array) -> jax.Array:
        """Hidden states (any leading axes) -> vocabulary logits (soft-capped for Gemma 2)."""
        if self.lm_head is None:
            scale = self.config.logit_scale
            scale = self.config.d_model**-0.5 if scale is None else scale
            logits = jnp.einsum("...d,vd->...v", hidden_XD, self.embed.embedding[...])
            logits = logits if scale == 1.0 else logits * scale
        else:
            logits = self.lm_head(hidden_XD)
        cap = self.config.final_softcap
        return logits if cap is None else cap * jnp.tanh(logits / cap)

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
        slot s sees the valid slots <= s (and, in a sliding layer, only those whose position is
        within the window: a slot's position is the count of valid slots before it). Returns
        (final-normed hidden [B, L, D], caches).
        """
        _, length = tokens_BL.shape
        slots = valid_BS.shape[1]
        query_slot_L = index + jnp.arange(length)
        key_slot_S = jnp.arange(slots)
        causal_LS = key_slot_S[None, :] <= query_slot_L[:, None]
        self_LS = key_slot_S[None, :] == query_slot_L[:, None]
        key_pos_BS = jnp.cumsum(valid_BS.astype(jnp.int32), axis=-1) - 1
        layers = self._layer_inputs(positions_BL, key_pos_BS, valid_BS, causal_LS, self_LS)
        x_BLD = self._embed(tokens_BL)
        new_k, new_v = [], []
        for i, block in enumerate(self.blocks):
            layer = layers[self.config.layer_type(i)]
            x_BLD, k_i, v_i = block.cached(x_BLD, *layer, k_cache[i], v_cache[i], index)
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
        x_BLD, layers = self._inputs(tokens_BL, attention_mask_BL, None, dropout_key)
        last = len(self.blocks) - 1
        for i in range(last):
            layer = layers[self.config.layer_type(i)]
            x_BLD = self.blocks[i](x_BLD, *layer, _fold(dropout_key, i))
        block, key = self.blocks[last], _fold(dropout_key, last)
        sin, cos, mask_BLS = layers[self.config.layer_type(last)]
        x_B1D = block.at(x_BLD, sin, cos, mask_BLS, index_B, key)
        logits_BV = self.project(self.final_norm(x_B1D)[:, 0])
        if not rows:
            return logits_BV, None
        r = slice(0, rows)
        hidden_RLD = self.final_norm(block(x_BLD[r], sin[r], cos[r], mask_BLS[r], key))
        return logits_BV, hidden_RLD


def count_params(model: nnx.Module) -> int:
    return sum(x.size for x in jax.tree.leaves(nnx.state(model, nnx.Param)))
