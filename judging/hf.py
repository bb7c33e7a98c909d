"""Load a local Hugging Face checkpoint (Llama, Mistral, Qwen2) into the nnx `Decoder`.

`from_pretrained(directory)` reads only local files, nothing is downloaded:

    config.json                   model_type llama / mistral / qwen2 and the sizes
    *.safetensors                 the weights (one file or shards), read with `safetensors`
    tokenizer.json                the `tokenizers` tokenizer
    tokenizer_config.json         optional: bos/eos/pad token strings

Parameter mapping (HF torch `Linear.weight` is [out, in]; nnx `Linear.kernel` is [in, out]):

    model.embed_tokens.weight                       embed.embedding
    model.layers.N.input_layernorm.weight           blocks.N.attn_norm.scale
    model.layers.N.self_attn.{q,k,v,o}_proj.weight  blocks.N.attn.{q,k,v,o}.kernel (transposed)
    model.layers.N.self_attn.{q,k,v}_proj.bias      blocks.N.attn.{q,k,v}.bias (Qwen2)
    model.layers.N.post_attention_layernorm.weight  blocks.N.ff_norm.scale
    model.layers.N.mlp.{gate,up,down}_proj.weight   blocks.N.ff.{gate,up,down}.kernel (transposed)
    model.norm.weight                               final_norm.scale
    lm_head.weight                                  lm_head.kernel (transposed; absent if tied)

Label tokens (`HFJudgeTokenizer.label_token_id`): the judge reads a verdict from ONE next-token
distribution, so each label is scored by the first token its rendered target (" A", " tie", ...)
encodes to *in context*, i.e. after the prompt's final ":" (so a SentencePiece "▁A" or a
byte-level "ĠA" is found, not a standalone-prefix variant). Multi-token labels are scored by
their first token only; `Judge` refuses a task whose labels share a first token (the verdict
would be ambiguous) rather than scoring the full sequences.

Not supported (a clear error, never a silent mismatch): rope scaling (Llama 3.1 style), MLP or
output-projection biases, activations other than SiLU; Mistral's sliding window is honoured by
capping `max_len` at the window, where the two attentions agree.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from safetensors import safe_open
from tokenizers import Tokenizer

from judging.checkpoint import LoadedModel
from judging.model import Decoder, ModelConfig
from judging.task_format import render_target
from judging.tokenizer import JudgeTokenizer

SUPPORTED_MODEL_TYPES = ("llama", "mistral", "qwen2")


class HFJudgeTokenizer(JudgeTokenizer):
    """A checkpoint's own tokenizer.json with explicit special-token ids (bos may be None)."""

    def __init__(
        self,
        tokenizer: Tokenizer,
        *,
        bos_id: int | None = None,
        eos_id: int | None = None,
        pad_id: int | None = None,
    ) -> None:
        self._tok = tokenizer
        self.bos_id = bos_id
        self.eos_id = eos_id
        self.pad_id = pad_id if pad_id is not None else (eos_id if eos_id is not None else 0)

    def label_token_id(self, label: str) -> int:
        """The first token of `render_target(label)` as encoded after a ':' (see module doc)."""
        prefix = self.encode(":")
        ids = self.encode(":" + render_target(label))
        if ids[: len(prefix)] == prefix and len(ids) > len(prefix):
            ids = ids[len(prefix) :]
        else:  # the colon merged with the label: fall back to the label on its own
            ids = self.encode(render_target(label))
        if not ids:
            raise KeyError(f"label {label!r} encodes to no token")
        return ids[0]

    def has_single_token(self, label: str) -> bool:
        prefix = self.encode(":")
        return len(self.encode(":" + render_target(label))) == len(prefix) + 1

    def add_labels(self, labels: Iterable[str]) -> list[str]:
        raise NotImplementedError("a pretrained tokenizer's vocabulary is fixed by its weights")


def _token_id(tokenizer: Tokenizer, token: Any) -> int | None:
    if isinstance(token, dict):  # tokenizer_config.json's AddedToken form
        token = token.get("content")
    return tokenizer.token_to_id(token) if isinstance(token, str) else None


def _first_id(value: Any) -> int | None:
    if isinstance(value, list):
        return value[0] if value else None
    return value


def load_hf_tokenizer(directory: str | Path, hf_config: dict[str, Any]) -> HFJudgeTokenizer:
    directory = Path(directory)
    tok = Tokenizer.from_file(str(directory / "tokenizer.json"))
    tok_config: dict[str, Any] = {}
    if (directory / "tokenizer_config.json").exists():
        tok_config = json.loads((directory / "tokenizer_config.json").read_text("utf-8"))
    ids = {}
    for name in ("bos", "eos", "pad"):
        from_tok = _token_id(tok, tok_config.get(f"{name}_token"))
        ids[name] = (
            from_tok if from_tok is not None else _first_id(hf_config.get(f"{name}_token_id"))
        )
    # Qwen2 and others declare no BOS to prepend (add_bos_token false / null bos_token).
    if tok_config.get("add_bos_token") is False or (
        "bos_token" in tok_config and tok_config["bos_token"] is None
    ):
        ids["bos"] = None
    return HFJudgeTokenizer(tok, bos_id=ids["bos"], eos_id=ids["eos"], pad_id=ids["pad"])


def config_from_hf(hf: dict[str, Any]) -> ModelConfig:
    """ModelConfig for a Llama / Mistral / Qwen2 config.json (as a dict)."""
    model_type = hf.get("model_type")
    if model_type not in SUPPORTED_MODEL_TYPES:
        raise ValueError(f"unsupported model_type {model_type!r}; known: {SUPPORTED_MODEL_TYPES}")
    if hf.get("hidden_act", "silu") != "silu":
        raise ValueError(f"unsupported hidden_act {hf.get('hidden_act')!r} (only silu)")
    rope = hf.get("rope_scaling") or hf.get("rope_parameters") or {}
    rope_type = rope.get("rope_type", rope.get("type", "default"))
    if rope_type not in ("default", None):
        raise ValueError(f"unsupported rope scaling {rope_type!r}")
    rope_theta = hf.get("rope_theta", rope.get("rope_theta", 10000.0))
    if hf.get("mlp_bias"):
        raise ValueError("MLP biases are not supported")
    if model_type == "qwen2":
        qkv_bias = True
    else:
        if hf.get("attention_bias"):
            raise ValueError("attention_bias (q/k/v/o biases) is not supported for llama/mistral")
        qkv_bias = False
    n_heads = hf["num_attention_heads"]
    max_len = hf.get("max_position_embeddings", 2048)
    window = hf.get("sliding_window")
    if window and (model_type == "mistral" or hf.get("use_sliding_window")):
        max_len = min(max_len, window)
    return ModelConfig(
        vocab_size=hf["vocab_size"],
        d_model=hf["hidden_size"],
        n_layers=hf["num_hidden_layers"],
        n_heads=n_heads,
        n_kv_heads=hf.get("num_key_value_heads") or n_heads,
        d_ff=hf["intermediate_size"],
        max_len=max_len,
        rope_theta=float(rope_theta),
        norm_eps=float(hf.get("rms_norm_eps", 1e-6)),
        tie_embeddings=bool(hf.get("tie_word_embeddings", False)),
        head_dim=hf.get("head_dim"),
        qkv_bias=qkv_bias,
        logit_scale=1.0,
    )


def read_safetensors(directory: str | Path) -> dict[str, np.ndarray]:
    """All tensors of every *.safetensors file in `directory`, as float32 numpy arrays."""
    files = sorted(Path(directory).glob("*.safetensors"))
    if not files:
        raise FileNotFoundError(f"no *.safetensors in {directory}")
    tensors: dict[str, np.ndarray] = {}
    for path in files:
        # framework="flax" reads bfloat16 too (numpy has no bfloat16).
        with safe_open(str(path), framework="flax") as handle:
            for name in handle.keys():  # noqa: SIM118 - safe_open is not a mapping
                tensors[name] = np.asarray(handle.get_tensor(name), dtype=np.float32)
    return tensors


def hf_param_map(config: ModelConfig) -> dict[str, tuple[tuple[Any, ...], bool]]:
    """HF name -> (path in the nnx pure-dict state, transpose?)."""
    mapping: dict[str, tuple[tuple[Any, ...], bool]] = {
        "model.embed_tokens.weight": (("embed", "embedding"), False),
        "model.norm.weight": (("final_norm", "scale"), False),
    }
    if not config.tie_embeddings:
        mapping["lm_head.weight"] = (("lm_head", "kernel"), True)
    for i in range(config.n_layers):
        hf, ours = f"model.layers.{i}.", ("blocks", i)
        mapping[hf + "input_layernorm.weight"] = ((*ours, "attn_norm", "scale"), False)
        mapping[hf + "post_attention_layernorm.weight"] = ((*ours, "ff_norm", "scale"), False)
        for proj in ("q", "k", "v", "o"):
            mapping[f"{hf}self_attn.{proj}_proj.weight"] = ((*ours, "attn", proj, "kernel"), True)
        if config.qkv_bias:
            for proj in ("q", "k", "v"):
                mapping[f"{hf}self_attn.{proj}_proj.bias"] = ((*ours, "attn", proj, "bias"), False)
        for proj in ("gate", "up", "down"):
            mapping[f"{hf}mlp.{proj}_proj.weight"] = ((*ours, "ff", proj, "kernel"), True)
    return mapping


def _set(tree: dict, path: tuple[Any, ...], value: Any) -> None:
    for key in path[:-1]:
        tree = tree[key]
    tree[path[-1]] = value


def _get(tree: dict, path: tuple[Any, ...]) -> Any:
    for key in path:
        tree = tree[key]
    return tree


def model_from_tensors(
    config: ModelConfig, tensors: dict[str, np.ndarray], dtype: Any = jnp.float32
) -> Decoder:
    abstract = nnx.eval_shape(lambda: Decoder(config, rngs=nnx.Rngs(0)))
    graphdef, abstract_state = nnx.split(abstract)
    pure = nnx.to_pure_dict(abstract_state)
    mapping = hf_param_map(config)
    missing = sorted(set(mapping) - set(tensors))
    if missing:
        raise KeyError(f"checkpoint lacks {len(missing)} tensors, e.g. {missing[:3]}")
    ignorable = ("rotary_emb.inv_freq", "lm_head.weight")
    unused = sorted(n for n in set(tensors) - set(mapping) if not n.endswith(ignorable))
    if unused:
        raise KeyError(f"checkpoint has {len(unused)} unmapped tensors, e.g. {unused[:3]}")
    for name, (path, transpose) in mapping.items():
        value = tensors[name].T if transpose else tensors[name]
        expected = _get(pure, path).shape
        if value.shape != expected:
            raise ValueError(f"{name}: shape {value.shape}, model expects {expected}")
        _set(pure, path, jnp.asarray(value, dtype=dtype))
    nnx.replace_by_pure_dict(abstract_state, pure)
    return nnx.merge(graphdef, abstract_state)


def is_hf_checkpoint(directory: str | Path) -> bool:
    directory = Path(directory)
    if not (directory / "config.json").exists() or not any(directory.glob("*.safetensors")):
        return False
    try:
        return "model_type" in json.loads((directory / "config.json").read_text("utf-8"))
    except (ValueError, OSError):
        return False


def from_pretrained(
    directory: str | Path, dtype: Any = jnp.float32, mesh: Any = None
) -> LoadedModel:
    """Load a local HF checkpoint directory (nothing is downloaded). The weights stream
    tensor by tensor onto `mesh` (default: the default device; FSDP-sharded over a
    multi-device mesh) in `dtype` (None: as stored), see judging/hf_stream.py."""
    from judging.hf_stream import stream_model  # it imports this module

    directory = Path(directory)
    hf_config = json.loads((directory / "config.json").read_text("utf-8"))
    config = config_from_hf(hf_config)
    model = stream_model(directory, config, dtype=dtype, mesh=mesh)
    tokenizer = load_hf_tokenizer(directory, hf_config)
    metadata = {
        "source": "huggingface",
        "model_type": hf_config["model_type"],
        "path": str(directory),
    }
    return LoadedModel(model=model, config=config, tokenizer=tokenizer, metadata=metadata)


def to_hf_tensors(model: Decoder) -> dict[str, np.ndarray]:
    """The inverse mapping: this model's params under HF names (for tests and benchmarks)."""
    pure = nnx.to_pure_dict(nnx.state(model, nnx.Param))
    out = {}
    for name, (path, transpose) in hf_param_map(model.config).items():
        value = np.asarray(jax.device_get(_get(pure, path)), dtype=np.float32)
        out[name] = np.ascontiguousarray(value.T if transpose else value)
    return out
