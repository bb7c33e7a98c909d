import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

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
