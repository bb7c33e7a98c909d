"""Shared-prefix scoring of pairwise prompts judged in both orders.

The two orders of a pairwise prompt (A then B, B then A) are identical up to the first response:
instructions, task description and context (often the longest part: an article to summarise, a
conversation). Here that shared prefix runs through the model once, filling a key/value cache,
and each order's suffix (the two responses and the EVALUATION line) runs over that cache. The
scores equal the full forward's up to float rounding (tests/judging/test_prefix.py).

Whether it pays is decided per batch from padded token counts: sharing costs P + 2T token
passes per pair (P, T: the bucketed prefix and suffix lengths) against 2L for two full prompts.
Attention over the prefix is paid by both suffixes either way, and the cached path is slower per
token than the plain forward on CPU (measured with `benchmarks.judging`, `small`, one batch of
32 pairs: P=512, T=384 against L=768, a 17% saving on paper, ran 1.36x slower: 15.0 s against
11.0 s), so `MIN_SAVING` keeps the plain path unless the saving on paper is large (long shared
documents with short responses).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

# Share only when it saves at least this fraction of the padded token passes.
MIN_SAVING = 0.4


def common_prefix_length(a: Sequence[int], b: Sequence[int]) -> int:
    """Length of the shared prefix, leaving at least one token of each sequence as its suffix."""
    limit = min(len(a), len(b)) - 1
    n = 0
    while n < limit and a[n] == b[n]:
        n += 1
    return max(n, 0)


def sharing_pays(
    pairs: Sequence[tuple[Sequence[int], Sequence[int]]], bucket: Callable[[int], int]
) -> bool:
    """True when scoring this batch of pairs with a shared prefix saves enough work."""
    prefixes = [common_prefix_length(a, b) for a, b in pairs]
    full = bucket(max(max(len(a), len(b)) for a, b in pairs))
    prefix = bucket(max(prefixes)) if max(prefixes) > 0 else 0
    suffix = bucket(max(max(len(a), len(b)) - p for (a, b), p in zip(pairs, prefixes, strict=True)))
    return prefix > 0 and prefix + 2 * suffix <= (1.0 - MIN_SAVING) * 2 * full


def pad_pairs(
    pairs: Sequence[tuple[Sequence[int], Sequence[int]]],
    pad_id: int,
    bucket: Callable[[int], int],
    rows: int,
) -> tuple[np.ndarray, ...]:
    """Right-padded arrays for `score_pairs_shared`.

    Returns prefix tokens/mask [rows, P], suffix tokens/mask [rows, 2, T] and the index of each
    order's last suffix token [rows, 2]."""
    prefixes = [common_prefix_length(a, b) for a, b in pairs]
    p_len = bucket(max(prefixes))
    t_len = bucket(max(max(len(a), len(b)) - p for (a, b), p in zip(pairs, prefixes, strict=True)))
    prefix = np.full((rows, p_len), pad_id, np.int32)
    prefix_mask = np.zeros((rows, p_len), bool)
    suffix = np.full((rows, 2, t_len), pad_id, np.int32)
    suffix_mask = np.zeros((rows, 2, t_len), bool)
    last = np.zeros((rows, 2), np.int32)
    for i, ((a, b), n) in enumerate(zip(pairs, prefixes, strict=True)):
        prefix[i, :n] = a[:n]
        prefix_mask[i, :n] = True
        for o, seq in enumerate((a, b)):
            rest = seq[n:]
            suffix[i, o, : len(rest)] = rest
            suffix_mask[i, o, : len(rest)] = True
            last[i, o] = len(rest) - 1
    return prefix, prefix_mask, suffix, suffix_mask, last


@partial(jax.jit, static_argnums=0)
def score_pairs_shared(graphdef, state, prefix_BP, prefix_mask_BP, suffix_BOT, suffix_mask_BOT,
                       last_BO):
    """Full-vocabulary log-probabilities after each order's last token: [B, 2, V]."""
    model = nnx.merge(graphdef, state)
    b, p = prefix_BP.shape
    t = suffix_BOT.shape[2]
    k_cache, v_cache = model.init_cache(b, p + t, model.embed.embedding[...].dtype)
    valid_BS = jnp.zeros((b, p + t), bool).at[:, :p].set(prefix_mask_BP)
    positions_BP = jnp.maximum(jnp.cumsum(prefix_mask_BP, axis=-1) - 1, 0)
    _, k_cache, v_cache = model.forward_cached(
        prefix_BP, positions_BP, valid_BS, k_cache, v_cache, jnp.int32(0)
    )
    prefix_len_B = prefix_mask_BP.sum(axis=-1).astype(jnp.int32)
    rows = jnp.arange(b)
    out = []
    for order in range(2):
        valid_order_BS = valid_BS.at[:, p:].set(suffix_mask_BOT[:, order])
        positions_BT = prefix_len_B[:, None] + jnp.arange(t)[None, :]
        hidden_BTD, _, _ = model.forward_cached(
            suffix_BOT[:, order], positions_BT, valid_order_BS, k_cache, v_cache, jnp.int32(p)
        )
        logits_BV = model.project(hidden_BTD[rows, last_BO[:, order]])
        out.append(jax.nn.log_softmax(logits_BV.astype(jnp.float32), axis=-1))
    return jnp.stack(out, axis=1)
