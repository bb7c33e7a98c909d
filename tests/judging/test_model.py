import dataclasses
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from judging.attention import attend, attention_mask, explicit_attention
from judging.model import Decoder, ModelConfig, count_params

# Distinct primes so a transposed axis cannot go unnoticed.
B, L, V = 3, 7, 67
PRIME_CONFIG = ModelConfig(
    vocab_size=V, d_model=30, n_layers=2, n_heads=6, n_kv_heads=2, d_ff=22, max_len=64, head_dim=10
)


@pytest.fixture(scope="module")
def model():
    return Decoder(PRIME_CONFIG, rngs=nnx.Rngs(1))


def _tokens(seed=0):
    return jax.random.randint(jax.random.key(seed), (B, L), 0, V)


def test_shapes(model):
    tokens = _tokens()
    assert model(tokens).shape == (B, L, V)
    assert model.hidden(tokens).shape == (B, L, 30)
    assert model.logits_at(tokens, jnp.array([0, 3, 6])).shape == (B, V)
    np.testing.assert_allclose(
        model.logits_at(tokens, jnp.array([0, 3, 6])),
        model(tokens)[jnp.arange(B), jnp.array([0, 3, 6])],
        atol=1e-5,
    )


def test_logits_at_with_hidden_matches_the_full_pass(model):
    tokens = _tokens()
    mask = jnp.ones((B, L), dtype=bool).at[2, 5:].set(False)
    index = jnp.array([6, 3, 4])
    logits, hidden = model.logits_at_with_hidden(tokens, index, mask, rows=2)
    np.testing.assert_allclose(logits, model.logits_at(tokens, index, mask), atol=1e-5)
    np.testing.assert_allclose(hidden, model.hidden(tokens, mask)[:2], atol=1e-5)
    assert model.logits_at_with_hidden(tokens, index, mask, rows=0)[1] is None


def test_causal(model):
    tokens = _tokens()
    changed = tokens.at[:, 4].set((tokens[:, 4] + 1) % V)
    before, after = model(tokens), model(changed)
    np.testing.assert_allclose(before[:, :4], after[:, :4], atol=1e-5)
    assert not np.allclose(before[:, 4:], after[:, 4:], atol=1e-3)


def test_padding_does_not_change_real_positions(model):
    tokens = _tokens()[:1, :5]
    padded = jnp.concatenate([tokens, jnp.zeros((1, 2), tokens.dtype)], axis=1)
    mask = jnp.array([[1, 1, 1, 1, 1, 0, 0]])
    np.testing.assert_allclose(model(tokens), model(padded, mask)[:, :5], atol=1e-5)
    # Left padding gives the same logits too (positions count real tokens only).
    left = jnp.concatenate([jnp.zeros((1, 2), tokens.dtype), tokens], axis=1)
    np.testing.assert_allclose(model(tokens), model(left, mask[:, ::-1])[:, 2:], atol=1e-4)


def test_dropout_only_with_key():
    config = PRIME_CONFIG.__class__(**{**PRIME_CONFIG.to_dict(), "dropout": 0.5})
    model = Decoder(config, rngs=nnx.Rngs(0))
    tokens = _tokens()
    np.testing.assert_array_equal(model(tokens), model(tokens))
    assert not np.allclose(model(tokens), model(tokens, dropout_key=jax.random.key(0)))


def test_config_named_and_dict_round_trip():
    tiny = ModelConfig.named("tiny", vocab_size=1000)
    assert ModelConfig.from_dict(tiny.to_dict()) == tiny
    assert 100_000 < count_params(Decoder(tiny, rngs=nnx.Rngs(0))) < 5_000_000
    assert ModelConfig.named("small", vocab_size=1000).d_model > tiny.d_model
    with pytest.raises(ValueError, match="unknown model size"):
        ModelConfig.named("huge", vocab_size=10)
    with pytest.raises(ValueError, match="divisible"):
        ModelConfig(vocab_size=10, n_heads=6, n_kv_heads=4)


# The options of the Hugging Face families together (Gemma 3-like, with Gemma 2's soft-capping
# and Llama 3.1's rope scaling), windows far below the sequence length.
FAMILY_CONFIG = ModelConfig(
    vocab_size=V,
    d_model=32,
    n_layers=3,
    n_heads=4,
    n_kv_heads=2,
    d_ff=48,
    head_dim=8,
    tie_embeddings=True,
    logit_scale=1.0,
    qk_norm=True,
    norm_offset=1.0,
    sandwich_norms=True,
    activation="gelu_tanh",
    scale_embeddings=True,
    query_scale=12**-0.5,
    attn_softcap=5.0,
    final_softcap=10.0,
    sliding_window=3,
    layer_types=("sliding", "full", "sliding"),
    local_rope_theta=100.0,
    rope_type="llama3",
    rope_factor=8.0,
    rope_original_max_len=16,
)


def _old_attention(q_BLHE, k_BSKE, v_BSKE, mask_BLS):
    """The materialised path judging/model.py ran before jax.nn.dot_product_attention."""
    b, length, h, e = q_BLHE.shape
    k = k_BSKE.shape[2]
    q_BLKGE = q_BLHE.reshape(b, length, k, h // k, e)
    logits_BKGLS = jnp.einsum("blkge,bske->bkgls", q_BLKGE, k_BSKE) * (e**-0.5)
    logits_BKGLS = jnp.where(mask_BLS[:, None, None], logits_BKGLS, -1e9)
    probs_BKGLS = jax.nn.softmax(logits_BKGLS.astype(jnp.float32), axis=-1).astype(q_BLHE.dtype)
    return jnp.einsum("bkgls,bske->blkge", probs_BKGLS, v_BSKE).reshape(b, length, h, e)


def _old_mask(valid_BL):
    length = valid_BL.shape[1]
    causal_LS = jnp.tril(jnp.ones((length, length), dtype=bool))
    return (causal_LS[None] & valid_BL[:, None, :]) | jnp.eye(length, dtype=bool)[None]


@pytest.mark.parametrize("window", [None, 3])
def test_attention_equals_the_materialised_path(window):
    b, length, h, k, e = 3, 11, 6, 2, 8
    keys = jax.random.split(jax.random.key(7), 3)
    q = jax.random.normal(keys[0], (b, length, h, e))
    kk = jax.random.normal(keys[1], (b, length, k, e))
    v = jax.random.normal(keys[2], (b, length, k, e))
    valid = jnp.ones((b, length), bool).at[1, 8:].set(False).at[2, :4].set(False)  # right, left
    positions = jnp.maximum(jnp.cumsum(valid, axis=-1) - 1, 0)
    causal = jnp.tril(jnp.ones((length, length), dtype=bool))
    mask = attention_mask(positions, positions, valid, causal, jnp.eye(length, dtype=bool), window)
    old_mask = _old_mask(valid)
    if window is None:
        np.testing.assert_array_equal(mask, old_mask)
    else:  # the window keeps a key p - window < q <= p (p, q positions among real tokens)
        expected = old_mask & ((positions[:, :, None] - positions[:, None, :]) < window)
        expected = expected | jnp.eye(length, dtype=bool)[None]
        np.testing.assert_array_equal(mask, expected)
        seen = np.asarray(mask.sum(-1))[np.asarray(valid)]  # keys each real query sees
        assert seen.max() == window and (mask.sum(-1)[0, window:] == window).all()
    reference = _old_attention(q, kk, v, mask)
    scale = e**-0.5
    real = np.asarray(valid)
    for out in (
        attend(q, kk, v, mask, scale=scale),
        explicit_attention(q, kk, v, mask, scale=scale),
    ):
        np.testing.assert_allclose(np.asarray(out)[real], np.asarray(reference)[real], atol=1e-5)
    # Soft-capping at a cap far above the scores is the identity; a small cap changes them.
    capped = explicit_attention(q, kk, v, mask, scale=scale, softcap=1e4)
    np.testing.assert_allclose(np.asarray(capped)[real], np.asarray(reference)[real], atol=1e-5)
    capped = explicit_attention(q, kk, v, mask, scale=scale, softcap=0.5)
    assert not np.allclose(np.asarray(capped)[real], np.asarray(reference)[real], atol=1e-3)


def test_sliding_window_limits_what_a_layer_sees():
    config = dataclasses.replace(FAMILY_CONFIG, n_layers=1, layer_types=("sliding",))
    model = Decoder(config, rngs=nnx.Rngs(3))
    tokens = jax.random.randint(jax.random.key(4), (1, 9), 0, V)
    changed = tokens.at[0, 2].set((tokens[0, 2] + 1) % V)
    before, after = model(tokens), model(changed)
    # Position 2 is inside the windows of positions 2..4 only (window 3, one layer).
    assert not np.allclose(before[0, 2:5], after[0, 2:5], atol=1e-4)
    np.testing.assert_allclose(before[0, 5:], after[0, 5:], atol=1e-6)


def test_cached_forward_matches_the_full_forward_for_every_option():
    model = Decoder(FAMILY_CONFIG, rngs=nnx.Rngs(5))
    length, prefix = 10, 6
    tokens = jax.random.randint(jax.random.key(6), (2, length), 0, V)
    valid = jnp.ones((2, length), bool).at[1, :3].set(False)  # row 1 left-padded
    positions = jnp.maximum(jnp.cumsum(valid, axis=-1) - 1, 0)
    full = model.hidden(tokens, valid)
    k_cache, v_cache = model.init_cache(2, length)
    valid_prefix = valid.at[:, prefix:].set(False)
    hidden, k_cache, v_cache = model.forward_cached(
        tokens[:, :prefix], positions[:, :prefix], valid_prefix, k_cache, v_cache, jnp.int32(0)
    )
    steps = [hidden]
    for slot in range(prefix, length):  # then one token per call, as generation does
        valid_now = valid.at[:, slot + 1 :].set(False)
        hidden, k_cache, v_cache = model.forward_cached(
            tokens[:, slot : slot + 1],
            positions[:, slot : slot + 1],
            valid_now,
            k_cache,
            v_cache,
            jnp.int32(slot),
        )
        steps.append(hidden)
    cached = jnp.concatenate(steps, axis=1)
    real = np.asarray(valid)
    np.testing.assert_allclose(np.asarray(cached)[real], np.asarray(full)[real], atol=1e-5)
    # logits_at (the last block at one position) agrees with the full pass too.
    index = jnp.array([length - 1, length - 2])
    np.testing.assert_allclose(
        model.logits_at(tokens, index, valid), model(tokens, valid)[jnp.arange(2), index], atol=1e-5
    )


def test_family_options_round_trip_and_validate():
    data = json.loads(json.dumps(FAMILY_CONFIG.to_dict()))  # as a checkpoint stores it
    assert ModelConfig.from_dict(data) == FAMILY_CONFIG
    assert isinstance(ModelConfig.from_dict(data).layer_types, tuple)
    with pytest.raises(ValueError, match="sliding_window"):
        ModelConfig(vocab_size=10, layer_types=("sliding", "full"))
    with pytest.raises(ValueError, match="layer_types has 1"):
        ModelConfig(vocab_size=10, layer_types=("full",), sliding_window=2)
    with pytest.raises(ValueError, match="activation"):
        ModelConfig(vocab_size=10, activation="relu")
    with pytest.raises(ValueError, match="rope_type"):
        ModelConfig(vocab_size=10, rope_type="yarn")
