"""Tiny random Hugging Face checkpoint directories, written without torch.

Each family's config.json is what `transformers` would write for a tiny model of that family
(the fields judging/hf.py reads); the weights are a random `Decoder`'s, saved under the Hugging
Face tensor names by `judging.hf.to_hf_tensors` (whose mapping tests/judging/test_hf.py checks
against transformers logit for logit). The tokenizer is a small byte-level BPE with <s>/</s>.
Extend FAMILIES as judging/hf.py learns more families.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from flax import nnx
from safetensors.numpy import save_file
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

from judging.hf import config_from_hf, to_hf_tensors
from judging.model import Decoder

_COMMON = dict(
    hidden_size=48,
    intermediate_size=96,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    max_position_embeddings=512,
    rms_norm_eps=1e-6,
    bos_token_id=1,
    eos_token_id=2,
    hidden_act="silu",
)

FAMILIES: dict[str, dict] = {
    "llama": dict(_COMMON, model_type="llama", rope_theta=500000.0, tie_word_embeddings=False),
    "qwen2": dict(_COMMON, model_type="qwen2", rope_theta=1000000.0, tie_word_embeddings=True),
    "mistral": dict(
        _COMMON, model_type="mistral", head_dim=16, sliding_window=512, tie_word_embeddings=False
    ),
    "qwen3": dict(_COMMON, model_type="qwen3", head_dim=16, tie_word_embeddings=True),
    "gemma2": dict(
        _COMMON,
        model_type="gemma2",
        head_dim=16,
        hidden_act="gelu_pytorch_tanh",
        hidden_activation="gelu_pytorch_tanh",
        sliding_window=16,
        query_pre_attn_scalar=16,
        attn_logit_softcapping=50.0,
        final_logit_softcapping=30.0,
        tie_word_embeddings=True,
    ),
    "gemma3_text": dict(
        _COMMON,
        model_type="gemma3_text",
        head_dim=16,
        hidden_act="gelu_pytorch_tanh",
        hidden_activation="gelu_pytorch_tanh",
        sliding_window=16,
        query_pre_attn_scalar=16,
        rope_theta=1000000.0,
        rope_local_base_freq=10000.0,
        layer_types=["sliding_attention", "full_attention"],
        tie_word_embeddings=True,
    ),
}


def write_tokenizer(directory: Path, texts: Iterable[str], vocab_size: int = 400) -> int:
    """tokenizer.json (byte-level BPE trained on `texts`) and tokenizer_config.json; returns the
    vocabulary size."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=["<unk>", "<s>", "</s>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(list(texts), trainer=trainer)
    directory.mkdir(parents=True, exist_ok=True)
    tok.save(str(directory / "tokenizer.json"))
    (directory / "tokenizer_config.json").write_text(
        json.dumps({"bos_token": "<s>", "eos_token": "</s>"})
    )
    return tok.get_vocab_size()


def write_random_hf(
    directory: Path, family: str, texts: Iterable[str], seed: int = 0, **overrides
) -> Path:
    """A tiny random checkpoint of `family` in Hugging Face layout at `directory`."""
    vocab = write_tokenizer(directory, texts)
    hf_config = {**FAMILIES[family], "vocab_size": vocab, **overrides}
    model = Decoder(config_from_hf(hf_config), rngs=nnx.Rngs(seed))
    save_file(to_hf_tensors(model), str(directory / "model.safetensors"), {"format": "pt"})
    (directory / "config.json").write_text(json.dumps(hf_config, indent=2))
    return directory
