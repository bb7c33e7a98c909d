"""config.json -> ModelConfig for the supported Hugging Face families (see judging/hf.py).

Each family's options as transformers derives them (its config classes' defaults for omitted
keys, its rules for which layers slide), and a ValueError naming any option Ember cannot run
exactly. Re-exported by judging/hf.py; docs/checkpoints.md has the table.
"""

from __future__ import annotations

from typing import Any

from judging.model import ModelConfig

SUPPORTED_MODEL_TYPES = ("llama", "mistral", "qwen2", "qwen3", "gemma2", "gemma3_text")
GEMMA_TYPES = ("gemma2", "gemma3_text")
# transformers' defaults for keys a config.json may omit (its config classes' __init__ values).
_QWEN = {"rope_theta": 10000.0, "sliding_window": 4096, "max_position_embeddings": 32768}
_GEMMA = {"head_dim": 256, "sliding_window": 4096, "query_pre_attn_scalar": 256}
FAMILY_DEFAULTS: dict[str, dict[str, Any]] = {
    "llama": {"rope_theta": 10000.0, "max_position_embeddings": 2048},
    "mistral": {"rope_theta": 10000.0, "sliding_window": 4096, "max_position_embeddings": 131072},
    "qwen2": _QWEN,
    "qwen3": {**_QWEN, "head_dim": 128},
    "gemma2": {
        **_GEMMA,
        "rope_theta": 10000.0,
        "max_position_embeddings": 8192,
        "attn_logit_softcapping": 50.0,
        "final_logit_softcapping": 30.0,
        "tie_word_embeddings": True,
    },
    "gemma3_text": {
        **_GEMMA,
        "rope_theta": 1_000_000.0,
        "rope_local_base_freq": 10000.0,
        "max_position_embeddings": 131072,
        "tie_word_embeddings": True,
    },
}


def _layer_types(hf: dict[str, Any], model_type: str, n_layers: int) -> tuple[str, ...] | None:
    """Each layer's attention ("full" / "sliding") as transformers derives it for the family."""
    named = hf.get("layer_types")
    if named is not None:
        names = {"full_attention": "full", "sliding_attention": "sliding"}
        unknown = sorted(set(named) - set(names))
        if unknown:
            raise ValueError(f"config.json layer_types: unsupported attention types {unknown}")
        if len(named) != n_layers:
            raise ValueError(f"config.json layer_types has {len(named)} entries, not {n_layers}")
        types = tuple(names[t] for t in named)
    elif model_type == "mistral":
        types = ("sliding",) * n_layers if hf.get("sliding_window") else None
    elif model_type == "gemma2":  # even layers (0, 2, ...) local, odd layers global
        types = tuple("sliding" if (i + 1) % 2 else "full" for i in range(n_layers))
    elif model_type == "gemma3_text":
        pattern = hf.get("sliding_window_pattern", 6)
        types = tuple("sliding" if (i + 1) % pattern else "full" for i in range(n_layers))
    elif model_type in ("qwen2", "qwen3") and hf.get("use_sliding_window"):
        first = hf.get("max_window_layers", 28)
        types = tuple("sliding" if i >= first else "full" for i in range(n_layers))
    else:
        types = None
    if types is None or "sliding" not in types:
        return None
    if not hf.get("sliding_window"):
        raise ValueError("config.json has sliding-window layers but no sliding_window size")
    return types


def _split_rope(hf: dict[str, Any], model_type: str) -> tuple[dict[str, Any], float | None]:
    """(the global rope dict, the sliding layers' own rope base or None). Newer configs nest
    rope parameters per layer type ({"full_attention": {...}, "sliding_attention": {...}})."""
    rope = hf.get("rope_scaling") or hf.get("rope_parameters") or {}
    local_theta = hf.get("rope_local_base_freq") if model_type == "gemma3_text" else None
    if not ({"full_attention", "sliding_attention"} & set(rope)):
        return rope, local_theta
    full, local = rope.get("full_attention") or {}, rope.get("sliding_attention") or {}
    if model_type != "gemma3_text" and local and local != full:
        raise ValueError(
            f"config.json: a separate sliding-layer rope is not supported for {model_type}"
        )
    if model_type == "gemma3_text" and local:
        if (local.get("rope_type", local.get("type")) or "default") != "default":
            raise ValueError(
                "config.json: rope scaling on Gemma 3's sliding layers is not supported"
            )
        local_theta = local.get("rope_theta", local_theta)
    return full, local_theta


def _rope_options(hf: dict[str, Any], rope: dict[str, Any]) -> dict[str, Any]:
    """The (global) rotary embedding's base and scaling, refused unless Ember runs it exactly."""
    rope_type = rope.get("rope_type", rope.get("type")) or "default"
    theta = rope.get("rope_theta", hf.get("rope_theta", 10000.0))
    if hf.get("partial_rotary_factor", 1.0) != 1.0:
        raise ValueError(
            f"config.json partial_rotary_factor={hf['partial_rotary_factor']} is not supported"
        )
    options: dict[str, Any] = {"rope_theta": float(theta), "rope_type": rope_type}
    if rope_type == "default":
        return options
    if rope_type == "linear":
        return {**options, "rope_factor": float(rope["factor"])}
    if rope_type == "llama3":
        try:
            return {
                **options,
                "rope_factor": float(rope["factor"]),
                "rope_low_freq_factor": float(rope["low_freq_factor"]),
                "rope_high_freq_factor": float(rope["high_freq_factor"]),
                "rope_original_max_len": int(rope["original_max_position_embeddings"]),
            }
        except KeyError as exc:
            raise ValueError(f"config.json rope_scaling (llama3) lacks {exc.args[0]!r}") from None
    raise ValueError(
        f"config.json rope_scaling: unsupported rope_type {rope_type!r} "
        f"(supported: default, linear, llama3)"
    )


def _refuse(hf: dict[str, Any], model_type: str) -> None:
    """Options that would make Ember's forward differ from transformers': a clear error."""
    default_act = "gelu_pytorch_tanh" if model_type in GEMMA_TYPES else "silu"
    act = hf.get("hidden_activation") or hf.get("hidden_act") or default_act
    if act != default_act:
        raise ValueError(
            f"config.json: unsupported activation {act!r} for {model_type} (only {default_act})"
        )
    if hf.get("mlp_bias"):
        raise ValueError("config.json mlp_bias: MLP biases are not supported")
    if model_type != "qwen2" and hf.get("attention_bias"):
        raise ValueError(
            f"config.json attention_bias: q/k/v/o biases are not supported for {model_type}"
        )
    if hf.get("use_bidirectional_attention"):
        raise ValueError(
            "config.json use_bidirectional_attention (EmbeddingGemma) is not supported"
        )
    if model_type in ("llama", "mistral", "qwen2", "qwen3") and hf.get("attn_logit_softcapping"):
        raise ValueError(f"config.json attn_logit_softcapping is not supported for {model_type}")


def config_from_hf(hf: dict[str, Any]) -> ModelConfig:
    """ModelConfig for a supported config.json (as a dict); anything else is a ValueError."""
    model_type = hf.get("model_type")
    if model_type == "gemma3":
        raise ValueError(
            "model_type 'gemma3' is the multimodal Gemma 3 (text_config + vision tower); "
            "only text checkpoints (model_type 'gemma3_text', e.g. Gemma 3 1B) are supported"
        )
    if model_type not in SUPPORTED_MODEL_TYPES:
        raise ValueError(f"unsupported model_type {model_type!r}; known: {SUPPORTED_MODEL_TYPES}")
    hf = {**FAMILY_DEFAULTS[model_type], **hf}
    _refuse(hf, model_type)
    n_heads, n_layers = hf["num_attention_heads"], hf["num_hidden_layers"]
    layer_types = _layer_types(hf, model_type, n_layers)
    gemma = model_type in GEMMA_TYPES
    options: dict[str, Any] = {}
    if gemma:
        options = dict(
            norm_offset=1.0,
            sandwich_norms=True,
            activation="gelu_tanh",
            scale_embeddings=True,
            query_scale=float(hf["query_pre_attn_scalar"]) ** -0.5,
            attn_softcap=hf.get("attn_logit_softcapping"),
            final_softcap=hf.get("final_logit_softcapping"),
        )
    rope, local_theta = _split_rope(hf, model_type)
    if local_theta is not None:
        options["local_rope_theta"] = float(local_theta)
    return ModelConfig(
        vocab_size=hf["vocab_size"],
        d_model=hf["hidden_size"],
        n_layers=n_layers,
        n_heads=n_heads,
        n_kv_heads=hf.get("num_key_value_heads") or n_heads,
        d_ff=hf["intermediate_size"],
        max_len=hf["max_position_embeddings"],
        norm_eps=float(hf.get("rms_norm_eps", 1e-6)),
        tie_embeddings=bool(hf.get("tie_word_embeddings", False)),
        head_dim=hf.get("head_dim"),
        qkv_bias=model_type == "qwen2",
        logit_scale=1.0,
        qk_norm=model_type in ("qwen3", "gemma3_text"),
        sliding_window=hf.get("sliding_window") if layer_types else None,
        layer_types=layer_types,
        **_rope_options(hf, rope),
        **options,
    )
