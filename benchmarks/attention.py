"""Attention at long context: the model's `attend` against the materialised path it replaced.

    python -m benchmarks.attention [--quick] [--lengths 1024 4096]

For each length L, one batch row of Gemma-2B-like attention (8 query heads over 1 key/value
head, head dim 256 scaled down to 64 for the CPU) with a right-padded mask, jitted:

- `materialised`: the path judging/model.py ran before (float32 scores [B, H, L, S] with a
  where-mask, softmax, einsum), kept in `judging.attention.explicit_attention`;
- `attend`: `judging.attention.attend` (`jax.nn.dot_product_attention`, XLA here; cuDNN flash
  attention on a GPU for bf16/fp16), full causal and with a 512-token sliding window.

Each reports the best of `--repeats` timed calls after a compiling call, XLA's compiled
temporary-buffer size (`memory_analysis().temp_size_in_bytes`, where the backend gives it) and
the max abs difference from the materialised output. Prints one JSON object; the ratios are
materialised / attend (above 1: attend is faster / smaller). No GPU was lent when this was
written, so the numbers are CPU (XLA) only: XLA's implementation also forms the score tensor, so
on CPU the two are expected to be close; the memory win is cuDNN's, on a GPU.
"""

from __future__ import annotations

import argparse
import json
import time

import jax
import jax.numpy as jnp
import numpy as np

from judging.attention import attend, attention_mask, explicit_attention

HEADS, KV_HEADS, HEAD_DIM, WINDOW = 8, 1, 64, 512


def _inputs(length: int, dtype) -> tuple[jax.Array, ...]:
    keys = jax.random.split(jax.random.key(0), 3)
    q = jax.random.normal(keys[0], (1, length, HEADS, HEAD_DIM), dtype)
    k = jax.random.normal(keys[1], (1, length, KV_HEADS, HEAD_DIM), dtype)
    v = jax.random.normal(keys[2], (1, length, KV_HEADS, HEAD_DIM), dtype)
    valid = jnp.arange(length)[None] < length - length // 8  # the last eighth is padding
    return q, k, v, valid


def _mask(valid: jax.Array, window: int | None) -> jax.Array:
    length = valid.shape[1]
    positions = jnp.maximum(jnp.cumsum(valid, axis=-1) - 1, 0)
    causal = jnp.tril(jnp.ones((length, length), dtype=bool))
    return attention_mask(positions, positions, valid, causal, jnp.eye(length, dtype=bool), window)


def _measure(fn, args, repeats: int) -> tuple[float, int | None, np.ndarray]:
    jitted = jax.jit(fn)
    compiled = jitted.lower(*args).compile()
    analysis = compiled.memory_analysis()
    temp = getattr(analysis, "temp_size_in_bytes", None) if analysis is not None else None
    out = jax.block_until_ready(jitted(*args))
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(jitted(*args))
        best = min(best, time.perf_counter() - start)
    return best, temp, np.asarray(out, np.float32)


def run(lengths: list[int], repeats: int, dtype=jnp.float32) -> dict:
    scale = HEAD_DIM**-0.5
    rows = []
    for length in lengths:
        q, k, v, valid = _inputs(length, dtype)
        for window in (None, WINDOW):
            if window is not None and window >= length:
                continue

            def materialised(q, k, v, valid, window=window):
                return explicit_attention(q, k, v, _mask(valid, window), scale=scale)

            def new(q, k, v, valid, window=window):
                return attend(q, k, v, _mask(valid, window), scale=scale)

            old_s, old_temp, old_out = _measure(materialised, (q, k, v, valid), repeats)
            new_s, new_temp, new_out = _measure(new, (q, k, v, valid), repeats)
            real = np.asarray(valid[0])
            rows.append(
                {
                    "length": length,
                    "window": window,
                    "materialised_seconds": round(old_s, 5),
                    "attend_seconds": round(new_s, 5),
                    "speed_ratio": round(old_s / new_s, 3),
                    "materialised_temp_bytes": old_temp,
                    "attend_temp_bytes": new_temp,
                    "memory_ratio": (
                        round(old_temp / new_temp, 3) if old_temp and new_temp else None
                    ),
                    "max_abs_diff": float(np.abs(old_out[0, real] - new_out[0, real]).max()),
                }
            )
    return {
        "backend": jax.default_backend(),
        "device": str(jax.devices()[0]),
        "dtype": jnp.dtype(dtype).name,
        "heads": HEADS,
        "kv_heads": KV_HEADS,
        "head_dim": HEAD_DIM,
        "repeats": repeats,
        "rows": rows,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short lengths, for the test")
    parser.add_argument("--lengths", type=int, nargs="+", default=[1024, 2048, 4096])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    lengths = [256, 1024] if args.quick else args.lengths
    print(json.dumps(run(lengths, 2 if args.quick else args.repeats), indent=2))


if __name__ == "__main__":
    main()
