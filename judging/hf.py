"""Load a local Hugging Face checkpoint into the nnx `Decoder` (judging/model.py).

`from_pretrained(directory)` reads only local files, nothing is downloaded:

    config.json                   model_type and sizes (families below)
    *.safetensors                 the weights (one file or shards), read with `safetensors`
    tokenizer.json                the `tokenizers` tokenizer
    tokenizer_config.json         optional: bos/eos/pad token strings

Families (model_type), each checked logit for logit against transformers in
tests/judging/test_hf.py; judging/hf_config.py reads their config.json (`config_from_hf`,
re-exported here); docs/checkpoints.md has the table of options:

    llama        Llama 2 / 3 / 3.1+ (rope_scaling llama3) / 3.2
    mistral      sliding_window honoured with a sliding-window mask on every layer
    qwen2        Qwen2 / 2.5: q/k/v biases
    qwen3        q_norm / k_norm (RMSNorm over each head), head_dim from the config
    gemma2       (1 + weight) RMSNorms before and after attention and feed-forward, GeGLU,
                 embeddings times sqrt(hidden_size), query_pre_attn_scalar, attention and final
                 logit soft-capping, sliding-window layers alternating with global ones
    gemma3_text  Gemma 2's layout plus q/k norms, no attention soft-capping, local rope base
                 (rope_local_base_freq) on sliding layers and rope_theta (+ its scaling) on global

Parameter mapping (HF torch `Linear.weight` is [out, in]; nnx `Linear.kernel` is [in, out]),
`hf_param_map(config)`, the one mapping that loading, streaming and export use:

    model.embed_tokens.weight                       embed.embedding
    model.layers.N.input_layernorm.weight           blocks.N.attn_norm.scale
    model.layers.N.self_attn.{q,k,v,o}_proj.weight  blocks.N.attn.{q,k,v,o}.kernel (transposed)
    model.layers.N.self_attn.{q,k,v}_proj.bias      blocks.N.attn.{q,k,v}.bias (Qwen2)
    model.layers.N.self_attn.{q,k}_norm.weight      blocks.N.attn.{q,k}_norm.scale (Qwen3, Gemma 3)
    model.layers.N.post_attention_layernorm.weight  blocks.N.ff_norm.scale (Llama, Mistral, Qwen)
                                                    blocks.N.attn_post_norm.scale (Gemma)
    model.layers.N.pre_feedforward_layernorm.weight blocks.N.ff_norm.scale (Gemma)
    model.layers.N.post_feedforward_layernorm.weight blocks.N.ff_post_norm.scale (Gemma)
    model.layers.N.mlp.{gate,up,down}_proj.weight   blocks.N.ff.{gate,up,down}.kernel (transposed)
    model.norm.weight                               final_norm.scale
    lm_head.weight                                  lm_head.kernel (transposed; absent if tied)

Label tokens (`HFJudgeTokenizer.label_token_id`): the judge reads a verdict from ONE next-token
distribution, so each label is scored by the first token its rendered target (" A", " tie", ...)
encodes to *in context*, i.e. after the prompt's final ":" (so a SentencePiece "▁A" or a
byte-level "ĠA" is found, not a standalone-prefix variant). Multi-token labels are scored by
their first token only; `Judge` refuses a task whose labels share a first token (the verdict
would be ambiguous) rather than scoring the full sequences.

Refused with a ValueError naming the option (never approximated): other model types (the
multimodal `gemma3` config included), rope scaling other than linear / llama3 (dynamic, yarn,
longrope, ...), partial_rotary_factor != 1, MLP biases, attention biases outside Qwen2, an
activation other than the family's own (silu; gelu_pytorch_tanh for Gemma), attention types other
than full / sliding, bidirectional attention (EmbeddingGemma).
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
from judging.hf_config import SUPPORTED_MODEL_TYPES, config_from_hf  # noqa: F401 (re-exported)
from judging.model import Decoder, ModelConfig
from judging.task_format import render_target
from judging.tokenizer import JudgeTokenizer


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
        if config.sandwich_norms:  # Gemma: post_attention_layernorm norms the attention output
            norms = {
                "post_attention_layernorm": "attn_post_norm",
                "pre_feedforward_layernorm": "ff_norm",
                "post_feedforward_layernorm": "ff_post_norm",
            }
        else:  # Llama: post_attention_layernorm is the feed-forward's pre-norm
            norms = {"post_attention_layernorm": "ff_norm"}
        for theirs, name in norms.items():
            mapping[f"{hf}{theirs}.weight"] = ((*ours, name, "scale"), False)
        if config.qk_norm:
            for proj in ("q", "k"):
                mapping[f"{hf}self_attn.{proj}_norm.weight"] = (
                    (*ours, "attn", f"{proj}_norm", "scale"),
                    False,
                )
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
