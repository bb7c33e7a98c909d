"""The typed training batch, and its placement on the device mesh."""

from __future__ import annotations

from typing import Any

import jax
import numpy as np
from flax import struct

from training import parallel


@struct.dataclass
class Batch:
    """Rows of right-padded prompts and the verdict label each row is trained to predict.

    A jax pytree, so a jitted step takes it whole. Shapes: [B, ...] on the host (numpy, from
    `BatchSource.next_batch`), [A, B / A, ...] once placed (`place_batch`: A micro-batches)."""

    tokens: Any  # [B, L] int32 token ids, pad_id after each prompt
    mask: Any  # [B, L] bool, True on the prompt's tokens
    last: Any  # [B] int32, each row's last prompt position (where the label is predicted)
    targets: Any  # [B] int32, the label's token id


def place_batch(mesh: jax.sharding.Mesh, accum: int, batch: Batch) -> Batch:
    """Host batch [B, ...] -> global arrays [A, B / A, ...], rows sharded over the data axis."""

    def place(host: Any) -> jax.Array:
        host = np.asarray(host).reshape(accum, -1, *np.shape(host)[1:])
        return parallel.global_array(host, parallel.batch_sharding(mesh, host.ndim, 1))

    return jax.tree.map(place, batch)
