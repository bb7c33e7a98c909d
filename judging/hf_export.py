"""Export a judge, adapters merged, as a Hugging Face checkpoint directory that `transformers`
loads (`AutoModelForCausalLM.from_pretrained(DIR)`) with the same logits.

    export_hf(loaded, out_dir, base_dir=None)

writes into `out_dir`:

    config.json            the base checkpoint's own config.json when the model came from a
                           Hugging Face checkpoint (`base_dir`, or the adapter's base), so every
                           family option is kept; else a Llama (Qwen2 with q/k/v biases) config
                           built from the ModelConfig
    model.safetensors      float32 weights under the Hugging Face names (judging.hf's mapping);
                           an adapter checkpoint's LoRA adapters are merged first,
                           W + scale * A @ B (judging/adapter.py)
    tokenizer.json         the judge's tokenizer, and tokenizer_config.json naming its
                           bos/eos/pad tokens (the base's tokenizer files are copied instead
                           when there is one)

Ember's own tied models scale their output projection by d_model ** -0.5, which no Hugging Face
config can say: such a model is written untied, with lm_head = scale x the embedding, which gives
the same logits. A config field Ember cannot express for transformers is refused by name.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.numpy import save_file

from judging.checkpoint import LoadedModel, load_model_dir
from judging.hf import is_hf_checkpoint, to_hf_tensors
from judging.model import ModelConfig

WEIGHTS_FILE = "model.safetensors"
TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "tokenizer.model",
)
# ModelConfig fields a synthesised Llama / Qwen2 config.json expresses, with their neutral
# values for the fields it cannot (a model that sets another value is refused).
_EXPRESSED = {
    "vocab_size",
    "d_model",
    "n_layers",
    "n_heads",
    "n_kv_heads",
    "d_ff",
    "max_len",
    "dropout",
    "rope_theta",
    "norm_eps",
    "tie_embeddings",
    "head_dim",
    "qkv_bias",
    "logit_scale",
}


def _source_dir(loaded: LoadedModel, base_dir: str | Path | None) -> Path | None:
    """The Hugging Face checkpoint the model came from, if any."""
    candidates = [base_dir, loaded.metadata.get("adapter", {}).get("base")]
    if loaded.metadata.get("source") == "huggingface":
        candidates.append(loaded.metadata.get("path"))
    candidates.append(loaded.metadata.get("init_checkpoint"))
    for candidate in candidates:
        if candidate and is_hf_checkpoint(candidate):
            return Path(candidate)
    return None


def llama_config(config: ModelConfig, tokenizer: Any) -> dict[str, Any]:
    """A transformers config.json for an Ember ModelConfig (Llama, or Qwen2 with q/k/v biases)."""
    defaults = ModelConfig(vocab_size=config.vocab_size).to_dict()
    for field, value in config.to_dict().items():
        if field not in _EXPRESSED and value != defaults.get(field):
            raise ValueError(
                f"cannot export model config field {field}={value!r} to a Hugging Face config"
            )
    model_type = "qwen2" if config.qkv_bias else "llama"
    return {
        "architectures": ["Qwen2ForCausalLM" if config.qkv_bias else "LlamaForCausalLM"],
        "model_type": model_type,
        "vocab_size": config.vocab_size,
        "hidden_size": config.d_model,
        "intermediate_size": config.d_ff,
        "num_hidden_layers": config.n_layers,
        "num_attention_heads": config.n_heads,
        "num_key_value_heads": config.n_kv_heads,
        "head_dim": config.resolved_head_dim,
        "max_position_embeddings": config.max_len,
        "rope_theta": config.rope_theta,
        "rms_norm_eps": config.norm_eps,
        "hidden_act": "silu",
        "attention_bias": False,
        "mlp_bias": False,
        "tie_word_embeddings": config.tie_embeddings,
        "bos_token_id": tokenizer.bos_id,
        "eos_token_id": tokenizer.eos_id,
        "pad_token_id": tokenizer.pad_id,
        "torch_dtype": "float32",
    }


def _tokenizer_config(tokenizer: Any) -> dict[str, Any]:
    def name(token_id: int | None) -> str | None:
        return None if token_id is None else tokenizer._tok.id_to_token(token_id)

    return {
        "bos_token": name(tokenizer.bos_id),
        "eos_token": name(tokenizer.eos_id),
        "pad_token": name(tokenizer.pad_id),
        "add_bos_token": tokenizer.bos_id is not None,
        "tokenizer_class": "PreTrainedTokenizerFast",
    }


def export_hf(
    loaded: LoadedModel | str | Path, out_dir: str | Path, base_dir: str | Path | None = None
) -> Path:
    """Write `loaded` (a LoadedModel, or any checkpoint directory: Ember, adapter, Hugging Face)
    as a Hugging Face checkpoint at `out_dir` (atomically: a temporary sibling renamed)."""
    if not isinstance(loaded, LoadedModel):
        loaded = load_model_dir(loaded)
    model, config, tokenizer = loaded.model, loaded.config, loaded.tokenizer
    source = _source_dir(loaded, base_dir)
    tensors = to_hf_tensors(model)
    if source is not None:
        hf_config = json.loads((source / "config.json").read_text("utf-8"))
        hf_config["torch_dtype"] = "float32"
    else:
        hf_config = llama_config(config, tokenizer)
    scale = config.logit_scale if config.logit_scale is not None else config.d_model**-0.5
    if config.tie_embeddings and scale != 1.0:
        embedding = tensors["model.embed_tokens.weight"]
        tensors["lm_head.weight"] = np.ascontiguousarray(embedding * np.float32(scale))
        hf_config["tie_word_embeddings"] = False
    out_dir = Path(out_dir).absolute()
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_dir.parent / f".{out_dir.name}.tmp-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        save_file(tensors, str(tmp / WEIGHTS_FILE), metadata={"format": "pt"})
        (tmp / "config.json").write_text(json.dumps(hf_config, indent=2) + "\n", "utf-8")
        copied = [n for n in TOKENIZER_FILES if source is not None and (source / n).exists()]
        for name in copied:
            shutil.copy(source / name, tmp / name)
        if "tokenizer.json" not in copied:
            tokenizer.save(tmp / "tokenizer.json")
            (tmp / "tokenizer_config.json").write_text(
                json.dumps(_tokenizer_config(tokenizer), indent=2) + "\n", "utf-8"
            )
        if out_dir.exists():
            shutil.rmtree(out_dir)
        os.replace(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir
