"""Streamed loading (judging.hf_stream): the same parameters as the eager loader, each placed
with the sharding asked for (FSDP over 4 CPU devices in a subprocess), and clear errors naming
the tensor and the file."""

import json
import os
import subprocess
import sys
from pathlib import Path

import jax.numpy as jnp
import ml_dtypes
import numpy as np
import pytest
from flax import nnx
from safetensors.numpy import load_file, save_file

from benchmarks.loading import llama_config, write_checkpoint
from judging.hf import config_from_hf, model_from_tensors, read_safetensors
from judging.hf_stream import INDEX_FILE, stream_model

ROOT = Path(__file__).resolve().parents[2]
SIZES = dict(
    vocab_size=256,
    hidden_size=64,
    intermediate_size=256,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
)
LAYOUTS = {
    "llama": llama_config(**SIZES),  # untied lm_head
    "qwen2": {**llama_config(**SIZES), "model_type": "qwen2", "tie_word_embeddings": True},
}


def _params(model) -> dict:
    return nnx.to_pure_dict(nnx.state(model, nnx.Param))


def _flat(tree: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        out.update(_flat(value, name + ".") if isinstance(value, dict) else {name: value})
    return out


@pytest.fixture(params=sorted(LAYOUTS))
def checkpoint(request, tmp_path):
    hf_config = LAYOUTS[request.param]
    write_checkpoint(tmp_path, hf_config, n_shards=3, seed=1)
    assert len(list(tmp_path.glob("*.safetensors"))) == 3
    return tmp_path, config_from_hf(hf_config)


def test_streamed_params_equal_eager(checkpoint):
    directory, config = checkpoint
    eager = _flat(_params(model_from_tensors(config, read_safetensors(directory))))
    as_fp32 = _flat(_params(stream_model(directory, config, dtype=jnp.float32)))
    stored = _flat(_params(stream_model(directory, config)))  # the checkpoint's own dtype
    assert set(eager) == set(as_fp32) == set(stored)
    if config.qkv_bias:
        assert any(name.endswith("q.bias") for name in stored)
    for name, value in eager.items():
        assert as_fp32[name].dtype == jnp.float32, name
        np.testing.assert_array_equal(np.asarray(as_fp32[name]), np.asarray(value), err_msg=name)
        assert stored[name].dtype == jnp.bfloat16, name
        np.testing.assert_array_equal(
            np.asarray(stored[name], dtype=np.float32), np.asarray(value), err_msg=name
        )


def test_single_file_without_index(tmp_path):
    write_checkpoint(tmp_path, LAYOUTS["llama"], n_shards=1)
    (tmp_path / INDEX_FILE).unlink()
    config = config_from_hf(LAYOUTS["llama"])
    streamed = _flat(_params(stream_model(tmp_path, config, dtype=jnp.float32)))
    eager = _flat(_params(model_from_tensors(config, read_safetensors(tmp_path))))
    for name, value in eager.items():
        np.testing.assert_array_equal(np.asarray(streamed[name]), np.asarray(value))


SHARDED = r"""
import json, sys
import jax, jax.numpy as jnp, numpy as np
from flax import nnx
from judging.hf import config_from_hf, model_from_tensors, read_safetensors
from judging.hf_stream import stream_model
from training import parallel

directory = sys.argv[1]
config = config_from_hf(json.load(open(directory + "/config.json")))
mesh = parallel.make_mesh()
model = stream_model(directory, config, mesh=mesh, fsdp=True)
eager = model_from_tensors(config, read_safetensors(directory))
got = jax.tree_util.tree_leaves_with_path(nnx.to_pure_dict(nnx.state(model, nnx.Param)))
want = jax.tree.leaves(nnx.to_pure_dict(nnx.state(eager, nnx.Param)))
out = {"devices": len(jax.devices()), "params": {}}
for (path, x), ref in zip(got, want, strict=True):
    asked = parallel.param_sharding(mesh, x.shape, True)
    out["params"][jax.tree_util.keystr(path)] = {
        "spec": str(x.sharding.spec),
        "asked": str(asked.spec),
        "same_sharding": x.sharding.is_equivalent_to(asked, x.ndim),
        "size": int(x.size),
        "shard_sizes": [int(s.data.size) for s in x.addressable_shards],
        "dtype": str(x.dtype),
        "equal": bool(np.array_equal(np.asarray(x, np.float32), np.asarray(ref))),
    }
print(json.dumps(out))
"""


def test_fsdp_shardings_over_four_devices(tmp_path):
    write_checkpoint(tmp_path, LAYOUTS["llama"], n_shards=2)
    env = {k: v for k, v in os.environ.items() if not k.startswith("EMBER_")}
    env["XLA_FLAGS"] = "--xla_force_host_platform_device_count=4"
    env["JAX_PLATFORMS"] = "cpu"
    run = subprocess.run(
        [sys.executable, "-c", SHARDED, str(tmp_path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    out = json.loads(run.stdout.strip().splitlines()[-1])
    assert out["devices"] == 4
    sharded = 0
    for name, p in out["params"].items():
        assert p["same_sharding"], (name, p)
        assert p["equal"] and p["dtype"] == "bfloat16", (name, p)
        assert len(p["shard_sizes"]) == 4
        if "data" in p["spec"]:  # each device holds a quarter, never the whole tensor
            sharded += 1
            assert p["shard_sizes"] == [p["size"] // 4] * 4, (name, p)
        else:
            assert p["shard_sizes"] == [p["size"]] * 4, (name, p)
    # embed, lm_head (256 x 64) and the 64 x 256 feed-forward kernels of both layers are at
    # parallel.FSDP_MIN_SIZE; attention kernels (64 x 64 and 64 x 32) and norms are not.
    assert sharded == 2 + 2 * 3


def _rewrite(directory: Path, change) -> None:
    """Apply `change(tensors)` to the first shard file, in place."""
    path = sorted(directory.glob("*.safetensors"))[0]
    tensors = load_file(str(path))
    change(tensors)
    save_file(tensors, str(path))


def test_errors_name_tensor_and_file(tmp_path):
    config = config_from_hf(LAYOUTS["llama"])
    write_checkpoint(tmp_path, LAYOUTS["llama"], n_shards=2)
    first = sorted(tmp_path.glob("*.safetensors"))[0].name

    # A shape the model does not expect.
    _rewrite(
        tmp_path,
        lambda t: t.update({"model.embed_tokens.weight": np.zeros((255, 64), ml_dtypes.bfloat16)}),
    )
    with pytest.raises(
        ValueError, match=rf"model.embed_tokens.weight in {first}: shape \(255, 64\)"
    ):
        stream_model(tmp_path, config)

    # A tensor the index promises is absent from its file.
    _rewrite(tmp_path, lambda t: t.pop("model.embed_tokens.weight"))
    with pytest.raises(KeyError, match=rf"model.embed_tokens.weight: not in .*{first}"):
        stream_model(tmp_path, config)

    # A tensor no parameter takes (an index-less directory: names come from the headers).
    (tmp_path / INDEX_FILE).unlink()
    _rewrite(
        tmp_path,
        lambda t: t.update({"model.embed_tokens.weight": np.zeros((256, 64), ml_dtypes.bfloat16),
                            "model.extra.weight": np.zeros((2,), ml_dtypes.bfloat16)}),
    )  # fmt: skip
    with pytest.raises(KeyError, match=rf"map to no parameter.*model.extra.weight \({first}\)"):
        stream_model(tmp_path, config)

    # A tensor the config needs and no file holds.
    _rewrite(tmp_path, lambda t: t.pop("model.extra.weight"))
    config3 = config_from_hf({**LAYOUTS["llama"], "num_hidden_layers": 3})
    with pytest.raises(KeyError, match=r"lacks \d+ tensors.*model.layers.2"):
        stream_model(tmp_path, config3)


def test_index_naming_a_missing_file(tmp_path):
    write_checkpoint(tmp_path, LAYOUTS["llama"], n_shards=2)
    last = sorted(tmp_path.glob("*.safetensors"))[-1]
    last.unlink()
    with pytest.raises(FileNotFoundError, match=rf"{INDEX_FILE}: weight_map puts .* {last.name}"):
        stream_model(tmp_path, config_from_hf(LAYOUTS["llama"]))
