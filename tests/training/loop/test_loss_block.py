"""Training on the whole EVALUATION block (evaluation_block) leaves the rows without later
output fields trained as before: on a batch of verdict-only rows its loss and gradients are
`label_loss`'s, and a row with a tail only adds its tail's next-token loss."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from judging.model import Decoder
from judging.model_config import ModelConfig
from training.loop.batch import Batch
from training.loop.loss import evaluation_block_loss, label_loss


def _model() -> Decoder:
    config = ModelConfig.named("tiny", vocab_size=50, max_len=32, d_model=32, n_layers=2)
    return Decoder(config, rngs=nnx.Rngs(0))


def _batch(lengths: list[int], seq_len: int = 16) -> Batch:
    rng = np.random.default_rng(0)
    tokens = rng.integers(3, 50, size=(len(lengths), seq_len)).astype(np.int32)
    mask = np.zeros_like(tokens, dtype=bool)
    for row, n in enumerate(lengths):
        mask[row, :n] = True
        tokens[row, n:] = 0
    return Batch(
        tokens=jnp.asarray(tokens),
        mask=jnp.asarray(mask),
        last=jnp.asarray([n - 1 for n in lengths], jnp.int32),
        targets=jnp.asarray(rng.integers(3, 50, size=len(lengths)), jnp.int32),
    )


def _loss_and_grads(loss_fn, model: Decoder, batch: Batch):
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)

    def scalar(p):
        return loss_fn(nnx.merge(graphdef, p, rest), batch)

    loss, grads = jax.value_and_grad(scalar)(params)
    return float(loss), jax.tree.leaves(grads)


def test_verdict_only_rows_train_as_with_the_verdict_loss():
    model, batch = _model(), _batch([5, 9, 12, 7])
    block = lambda m, b: evaluation_block_loss(m, b, verdict_weight=1.0)  # noqa: E731
    plain_loss, plain_grads = _loss_and_grads(label_loss, model, batch)
    block_loss, block_grads = _loss_and_grads(block, model, batch)
    assert abs(block_loss - plain_loss) < 1e-5
    for a, b in zip(plain_grads, block_grads, strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-5)


def test_a_tail_adds_its_next_token_loss_and_nothing_else():
    model = _model()
    with_tail = _batch([5, 9, 12, 7])
    # Row 1's last prompt position is 4 of its 9 tokens: positions 5..8 are its tail.
    with_tail = with_tail.replace(last=with_tail.last.at[1].set(4))
    verdict_only = with_tail.replace(mask=with_tail.mask.at[1, 5:].set(False))
    loss = float(evaluation_block_loss(model, with_tail, verdict_weight=1.0))
    verdict = float(label_loss(model, verdict_only))
    logits = model.project(model.hidden(with_tail.tokens, with_tail.mask)).astype(jnp.float32)
    # The tail's tokens 6..8 are predicted from positions 5..7 (position 4 predicts the verdict).
    tail = optax.softmax_cross_entropy_with_integer_labels(
        logits[1, 5:8], with_tail.tokens[1, 6:9]
    ).mean()
    assert abs(loss - (verdict + float(tail))) < 1e-4
