"""Adapter-only (LoRA) checkpoints: small, and loaded back onto the base they were trained on.

A LoRA run (training/lora.py) saves only its adapters, next to a reference to the base:

    adapter.safetensors   per adapted projection: "blocks.N.attn.q.lora_a" [in, r] and
                          "blocks.N.attn.q.lora_b" [r, out] (float32)
    adapter.json          {"format": "ember-lora", "base": <absolute path of the base>,
                           "base_sha256": <hash of its weight files>, "rank", "alpha", "scale",
                           "targets"}
    metadata.json         the training run's metadata (as a full checkpoint has)

`load_adapter_checkpoint` loads the base (an Ember or Hugging Face checkpoint), checks its hash
(a different base under the same path is refused, naming both hashes) and returns the merged
model: every adapted kernel W [in, out] becomes W + scale * A @ B (`merge_adapters`), a plain
`Decoder` that judges, generates and exports like any other.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jax.numpy as jnp
import numpy as np
from flax import nnx
from safetensors.numpy import load_file, save_file

from judging.model import Decoder

ADAPTER_FILE = "adapter.safetensors"
ADAPTER_CONFIG = "adapter.json"
ADAPTER_FORMAT = "ember-lora"
# Projection name -> the sub-module of a Block that holds it.
PROJECTIONS = {"q": "attn", "k": "attn", "v": "attn", "o": "attn"} | {
    "gate": "ff",
    "up": "ff",
    "down": "ff",
}


def adapter_name(layer: int, projection: str, matrix: str) -> str:
    """The tensor name of adapter matrix `matrix` ("lora_a" / "lora_b") of one projection."""
    return f"blocks.{layer}.{PROJECTIONS[projection]}.{projection}.{matrix}"


def weights_sha256(directory: str | Path) -> str:
    """A hash of a checkpoint's weight files (*.safetensors, or an Ember params/ tree), by name
    and content: an adapter records its base's, and refuses to load onto another."""
    directory = Path(directory)
    files = sorted(directory.glob("*.safetensors")) or sorted(
        p for p in (directory / "params").rglob("*") if p.is_file()
    )
    if not files:
        raise FileNotFoundError(f"{directory}: no weight files (*.safetensors or params/)")
    digest = hashlib.sha256()
    for path in files:
        digest.update(str(path.relative_to(directory)).encode())
        with path.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


def is_adapter_checkpoint(directory: str | Path) -> bool:
    directory = Path(directory)
    return (directory / ADAPTER_FILE).exists() and (directory / ADAPTER_CONFIG).exists()


def save_adapter_checkpoint(
    directory: str | Path,
    adapters: Mapping[str, np.ndarray],
    adapter_config: Mapping[str, Any],
    metadata: Mapping[str, Any],
) -> None:
    """Write adapters (name -> array, see `adapter_name`), adapter.json and metadata.json."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tensors = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in adapters.items()}
    save_file(tensors, str(directory / ADAPTER_FILE))
    config = {"format": ADAPTER_FORMAT, **adapter_config}
    for name, data in ((ADAPTER_CONFIG, config), ("metadata.json", metadata)):
        text = json.dumps(data, indent=2, sort_keys=True, default=str) + "\n"
        (directory / name).write_text(text, "utf-8")


def read_adapter_checkpoint(directory: str | Path) -> tuple[dict[str, np.ndarray], dict, dict]:
    """(adapters, adapter.json, metadata.json) of an adapter checkpoint directory."""
    directory = Path(directory)
    config = json.loads((directory / ADAPTER_CONFIG).read_text("utf-8"))
    if config.get("format") != ADAPTER_FORMAT:
        raise ValueError(
            f"{directory / ADAPTER_CONFIG}: format {config.get('format')!r}, "
            f"expected {ADAPTER_FORMAT!r}"
        )
    for field in ("base", "base_sha256", "scale"):
        if field not in config:
            raise ValueError(f"{directory / ADAPTER_CONFIG}: missing field {field!r}")
    metadata_path = directory / "metadata.json"
    metadata = json.loads(metadata_path.read_text("utf-8")) if metadata_path.exists() else {}
    return load_file(str(directory / ADAPTER_FILE)), config, metadata


def merge_adapters(model: Decoder, adapters: Mapping[str, np.ndarray], scale: float) -> Decoder:
    """A plain `Decoder` whose adapted kernels are W + scale * A @ B (float32)."""
    pure = nnx.to_pure_dict(nnx.state(model, nnx.Param))
    pairs = sorted({name.rsplit(".", 1)[0] for name in adapters})
    for prefix in pairs:
        a, b = adapters.get(prefix + ".lora_a"), adapters.get(prefix + ".lora_b")
        if a is None or b is None:
            raise KeyError(f"adapter {prefix!r} lacks lora_a or lora_b")
        _, layer, module, projection = prefix.split(".")
        try:
            node = pure["blocks"][int(layer)][module][projection]
        except (KeyError, IndexError):
            raise KeyError(f"adapter {prefix!r} names no projection of the base model") from None
        kernel = np.asarray(node["kernel"], dtype=np.float32)
        delta = scale * (np.asarray(a, np.float32) @ np.asarray(b, np.float32))
        if delta.shape != kernel.shape:
            raise ValueError(f"adapter {prefix!r}: A @ B is {delta.shape}, kernel {kernel.shape}")
        node["kernel"] = kernel + delta
    pure = _float32(pure)
    config = model.config
    graphdef, abstract = nnx.split(nnx.eval_shape(lambda: Decoder(config, rngs=nnx.Rngs(0))))
    nnx.replace_by_pure_dict(abstract, pure)
    return nnx.merge(graphdef, abstract)


def _float32(tree: Any) -> Any:
    """Every leaf of a nested dict as a float32 jax array."""
    if isinstance(tree, Mapping):
        return {k: _float32(v) for k, v in tree.items()}
    return jnp.asarray(tree, dtype=jnp.float32)
