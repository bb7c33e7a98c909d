"""Attention masks and the attention computation of the judge model (judging/model.py).

`attention_mask` builds one boolean [B, L, S] mask from query/key positions: causal, the keys'
padding, and optionally a sliding window (a query at position p sees keys at positions
p - window < q <= p, as transformers' `sliding_window_overlay`). Positions count real tokens, so
the same mask serves right padding, left padding (generation) and a key/value cache.

`attend` runs `jax.nn.dot_product_attention` with that mask: XLA's implementation on CPU/TPU and
cuDNN's fused (flash) attention on a GPU when dtype and shapes allow it (`_cudnn_usable`), so
the float32 score tensor is never materialised there. (No GPU was lent while this was written:
the cuDNN branch is untested on hardware; EMBER_ATTENTION=xla forces XLA.)

Gemma 2's attention-logit soft-capping (cap * tanh(scores / cap) before the softmax) cannot be
expressed through that function (it takes an additive bias, not a function of the scores), so
that case alone runs the explicit computation below, which is exact.

Axis names: B batch, L queries, S keys, H query heads, K key/value heads, G = H / K, E head dim.
"""

from __future__ import annotations

import os

import jax
import jax.numpy as jnp


def attention_mask(
    query_pos_BL: jax.Array,
    key_pos_BS: jax.Array,
    key_valid_BS: jax.Array,
    causal_LS: jax.Array,
    self_LS: jax.Array,
    window: int | None = None,
) -> jax.Array:
    """[B, L, S] boolean: key s is visible to query l.

    causal_LS: key slot <= query slot; self_LS: the query's own slot (kept visible so a padded
    query row still sees one key and its softmax stays finite; its output is never used).
    """
    mask_BLS = causal_LS[None] & key_valid_BS[:, None, :].astype(bool)
    if window is not None:
        distance_BLS = query_pos_BL[:, :, None] - key_pos_BS[:, None, :]
        mask_BLS = mask_BLS & (distance_BLS < window)
    return mask_BLS | self_LS[None]


def _cudnn_usable(q_BLHE: jax.Array, k_BSKE: jax.Array) -> bool:
    """cuDNN flash attention's documented limits (jax's check_is_flash_attention): a GPU,
    bf16/fp16 inputs, a head dim that is a multiple of 8 up to 128 (256 from Hopper on; 128
    holds on every card), and even query/key lengths (a mask becomes a bias, and training with
    a bias needs them). EMBER_ATTENTION=xla turns it off."""
    head_dim = q_BLHE.shape[-1]
    return (
        os.environ.get("EMBER_ATTENTION", "auto") != "xla"
        and jax.default_backend() == "gpu"
        and q_BLHE.dtype in (jnp.bfloat16, jnp.float16)
        and head_dim % 8 == 0
        and head_dim <= 128
        and q_BLHE.shape[1] % 2 == 0
        and k_BSKE.shape[1] % 2 == 0
    )


def attend(
    q_BLHE: jax.Array,
    k_BSKE: jax.Array,
    v_BSKE: jax.Array,
    mask_BLS: jax.Array,
    *,
    scale: float,
    softcap: float | None = None,
) -> jax.Array:
    """Grouped-query attention: [B, L, H, E] out (in q's dtype)."""
    if softcap is not None:
        return explicit_attention(q_BLHE, k_BSKE, v_BSKE, mask_BLS, scale=scale, softcap=softcap)
    k_BSKE, v_BSKE = k_BSKE.astype(q_BLHE.dtype), v_BSKE.astype(q_BLHE.dtype)
    mask_B1LS = mask_BLS[:, None]
    if _cudnn_usable(q_BLHE, k_BSKE):
        try:
            return jax.nn.dot_product_attention(
                q_BLHE, k_BSKE, v_BSKE, mask=mask_B1LS, scale=scale, implementation="cudnn"
            )
        except (NotImplementedError, ValueError, RuntimeError):
            pass  # a shape or cuDNN version it refuses at trace time: XLA computes the same
    return jax.nn.dot_product_attention(
        q_BLHE, k_BSKE, v_BSKE, mask=mask_B1LS, scale=scale, implementation="xla"
    )


def explicit_attention(
    q_BLHE: jax.Array,
    k_BSKE: jax.Array,
    v_BSKE: jax.Array,
    mask_BLS: jax.Array,
    *,
    scale: float,
    softcap: float | None = None,
) -> jax.Array:
    """The materialised computation: float32 scores, optional soft-capping, masked softmax.

    Used only where `jax.nn.dot_product_attention` cannot express the scores (soft-capping);
    scores are capped after scaling and before the mask, as transformers' Gemma 2 does."""
    b, length, h, e = q_BLHE.shape
    k = k_BSKE.shape[2]
    q_BLKGE = q_BLHE.reshape(b, length, k, h // k, e)
    scores_BKGLS = jnp.einsum(
        "blkge,bske->bkgls", q_BLKGE, k_BSKE, preferred_element_type=jnp.float32
    )
    scores_BKGLS = scores_BKGLS * scale
    if softcap is not None:
        scores_BKGLS = softcap * jnp.tanh(scores_BKGLS / softcap)
    scores_BKGLS = jnp.where(mask_BLS[:, None, None], scores_BKGLS, -1e30)
    probs_BKGLS = jax.nn.softmax(scores_BKGLS, axis=-1).astype(v_BSKE.dtype)
    out_BLKGE = jnp.einsum("bkgls,bske->blkge", probs_BKGLS, v_BSKE)
    return out_BLKGE.reshape(b, length, h, e).astype(q_BLHE.dtype)
