"""Streamed loading of a Hugging Face safetensors checkpoint straight onto a device mesh.

    model = stream_model(directory, config, dtype=None, mesh=make_mesh(), fsdp=True)

The model is built abstractly (`nnx.eval_shape`: shapes only, nothing allocated). Each parameter
gets a `NamedSharding` from `training.parallel.param_sharding` (the rule the trainer uses: FSDP
shards the largest dimension the mesh's "data" axis divides, small or indivisible arrays stay
replicated). Then, tensor by tensor, in the order of `judging.hf.hf_param_map` (the one HF-name
mapping; nothing is duplicated here), `jax.make_array_from_callback` asks for each device's
block, which is read from the shard file with `safe_open(...).get_slice` (only that block's
rows and columns; transposed where the mapping says, HF `[out, in]` -> nnx `[in, out]`), cast to
the target dtype and handed to that device. So the host holds at most one tensor's block (twice,
briefly: read and cast), no device ever holds more than its shard, and nothing is ever a full
float32 copy of the checkpoint. Each file is opened per tensor, so its memory map (whose touched
pages count as resident memory) is dropped as soon as the tensor is placed.

`dtype=None` keeps each tensor's stored dtype (bf16 stays bf16); a dtype casts per block. Shard
files come from `model.safetensors.index.json` when present, else from the headers of every
`*.safetensors` in the directory.

Errors name the tensor and the file: a tensor the config needs and no file holds, a tensor no
mapping entry uses, a shape that differs from the model's, a dtype that is not floating point,
an index naming a missing file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jax
import ml_dtypes
import numpy as np
from flax import nnx
from jax.sharding import Mesh
from safetensors import SafetensorError, safe_open

from judging.hf import _get, _set, hf_param_map
from judging.model import Decoder, ModelConfig
from training import parallel

INDEX_FILE = "model.safetensors.index.json"
# Stored by some checkpoints, never parameters here (lm_head.weight: a tied checkpoint's copy).
IGNORABLE_SUFFIXES = ("rotary_emb.inv_freq", "lm_head.weight")
STORED_DTYPES: dict[str, Any] = {
    "BF16": ml_dtypes.bfloat16,
    "F16": np.float16,
    "F32": np.float32,
    "F64": np.float64,
}


def tensor_files(directory: str | Path) -> dict[str, Path]:
    """HF tensor name -> the safetensors file that holds it."""
    directory = Path(directory)
    index = directory / INDEX_FILE
    if index.exists():
        try:
            weight_map = json.loads(index.read_text("utf-8"))["weight_map"]
        except (ValueError, KeyError, TypeError) as error:
            raise ValueError(
                f"{index}: not a safetensors index with a weight_map ({error})"
            ) from None
        if not isinstance(weight_map, dict):
            raise ValueError(f"{index}: weight_map must map tensor names to file names")
        files = {name: directory / file for name, file in weight_map.items()}
        for name, path in files.items():
            if not path.is_file():
                raise FileNotFoundError(f"{index}: weight_map puts {name} in {path.name}, missing")
        return files
    paths = sorted(directory.glob("*.safetensors"))
    if not paths:
        raise FileNotFoundError(f"no *.safetensors (and no {INDEX_FILE}) in {directory}")
    files: dict[str, Path] = {}
    for path in paths:
        with safe_open(str(path), framework="numpy") as handle:
            for name in handle.keys():  # noqa: SIM118 - safe_open is not a mapping
                if name in files:
                    raise ValueError(f"{name} is in both {files[name].name} and {path.name}")
                files[name] = path
    return files


def _check_names(directory: Path, mapping: dict, files: dict[str, Path]) -> None:
    missing = sorted(set(mapping) - set(files))
    if missing:
        raise KeyError(
            f"{directory}: checkpoint lacks {len(missing)} tensors the config needs, "
            f"e.g. {missing[:3]}"
        )
    unused = sorted(n for n in set(files) - set(mapping) if not n.endswith(IGNORABLE_SUFFIXES))
    if unused:
        where = [f"{n} ({files[n].name})" for n in unused[:3]]
        raise KeyError(f"{directory}: {len(unused)} tensors map to no parameter, e.g. {where}")


def param_shardings(
    config: ModelConfig, mesh: Mesh, fsdp: bool = True
) -> tuple[nnx.GraphDef, nnx.State, dict]:
    """(graphdef, abstract state, pure dict of NamedShardings) of `Decoder(config)`."""
    abstract = nnx.eval_shape(lambda: Decoder(config, rngs=nnx.Rngs(0)))
    graphdef, state = nnx.split(abstract)
    shardings = jax.tree.map(
        lambda x: parallel.param_sharding(mesh, x.shape, fsdp), nnx.to_pure_dict(state)
    )
    return graphdef, state, shardings


def _read_placed(
    name: str, path: Path, expected: tuple[int, ...], transpose: bool, dtype: Any, sharding
) -> jax.Array:
    """One tensor from `path`, each device's block read, transposed and cast on its own."""
    with safe_open(str(path), framework="numpy") as handle:
        try:
            part = handle.get_slice(name)
        except SafetensorError:
            raise KeyError(f"{name}: not in {path}") from None
        shape, stored = tuple(part.get_shape()), part.get_dtype()
        if stored not in STORED_DTYPES:
            raise ValueError(f"{name} in {path.name}: dtype {stored} is not a float weight")
        as_model = shape[::-1] if transpose else shape
        if as_model != tuple(expected):
            note = f" (transposed: {as_model})" if transpose else ""
            raise ValueError(
                f"{name} in {path.name}: shape {shape}{note}, the model expects {tuple(expected)}"
            )
        target = np.dtype(STORED_DTYPES[stored] if dtype is None else dtype)

        def block(index: tuple[slice, ...]) -> np.ndarray:
            if transpose:
                return np.ascontiguousarray(part[index[::-1]].T, dtype=target)
            return np.asarray(part[index], dtype=target)

        return jax.make_array_from_callback(tuple(expected), sharding, block)


def stream_model(
    directory: str | Path,
    config: ModelConfig,
    *,
    dtype: Any = None,
    mesh: Mesh | None = None,
    fsdp: bool = True,
) -> Decoder:
    """`Decoder(config)` with the checkpoint's weights, each placed with its mesh sharding.

    dtype: None keeps the stored dtype; else every weight is cast to it (block by block).
    mesh: default a one-device mesh (this process's first device); fsdp: shard over the
    mesh's data axis (ignored on one device)."""
    directory = Path(directory)
    mesh = parallel.make_mesh(jax.local_devices()[:1]) if mesh is None else mesh
    graphdef, state, shardings = param_shardings(config, mesh, fsdp)
    pure = nnx.to_pure_dict(state)
    mapping = hf_param_map(config)
    files = tensor_files(directory)
    _check_names(directory, mapping, files)
    filled = set()
    for name, (path, transpose) in mapping.items():
        expected = _get(pure, path).shape
        value = _read_placed(name, files[name], expected, transpose, dtype, _get(shardings, path))
        _set(pure, path, value)
        filled.add(tuple(path))
    leaves = jax.tree_util.tree_leaves_with_path(pure)
    paths = [tuple(k.key for k in keys) for keys, _ in leaves]
    unfilled = [".".join(map(str, p)) for p in paths if p not in filled]
    if unfilled:
        raise KeyError(f"hf_param_map fills no checkpoint tensor into {unfilled[:3]}")
    nnx.replace_by_pure_dict(state, pure)
    return nnx.merge(graphdef, state)
