"""from_pretrained parity with Hugging Face transformers (PyTorch CPU, float32).

A tiny random checkpoint is written in each HF layout (Llama untied with Llama 3.1 rope scaling,
Qwen2 tied with q/k/v biases, Mistral with a sliding window, Qwen3 with q/k norms, Gemma 2 with
soft-capping and alternating sliding/global layers, Gemma 3 text with q/k norms, local and
global rope bases and linear rope scaling) by transformers' own `save_pretrained`, loaded here
with `judging.hf.from_pretrained`, and the logits of a right-padded batch are compared at the
real positions, in fp32 (within TOL) and in bf16 (within BF16_TOL).

The reference side needs torch + transformers. It runs in this process when they import, else in
`$EMBER_TORCH_PYTHON` (a Python that has them, e.g. a Python 3.11 venv with the CPU torch wheel),
else the tests skip.
"""

import importlib.util
import json
import os
import shutil
import subprocess
import sys

import jax.numpy as jnp
import numpy as np
import pytest
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

from judging.generate import greedy_generate
from judging.hf import config_from_hf, from_pretrained
from judging.inference import Judge
from judging.task_format import Example, Task, TaskType

LAYOUTS = ("llama", "qwen2", "mistral", "qwen3", "gemma2", "gemma3")
TOL = 1e-4  # fp32: max abs logit difference against transformers
# bf16 (params and compute in bf16, as from_pretrained(dtype=bfloat16) runs): max abs logit
# difference against transformers' fp32 logits, relative to their largest magnitude. bf16 keeps
# 8 significant bits (2 ** -8 = 0.4 %), a few roundings per layer; transformers' own bf16 run
# lands at the same distance (printed beside ours; both 0.6-1.6 % on these configs).
BF16_TOL = 0.03

# Run by the reference Python, one process for all layouts (torch imports slowly):
# argv = [vocab_size, tokens.json, layout, directory, layout, directory, ...]. Windows of 4 and
# short rope contexts are far below the test sequences' ~15 tokens, so they all take effect.
REFERENCE = r"""
import json, sys
import numpy as np
import torch
import transformers as tf

vocab, batch = int(sys.argv[1]), json.loads(open(sys.argv[2]).read())
common = dict(vocab_size=vocab, hidden_size=48, intermediate_size=80, num_hidden_layers=2,
              num_attention_heads=6, num_key_value_heads=2, max_position_embeddings=64,
              rms_norm_eps=1e-6, bos_token_id=1, eos_token_id=2, pad_token_id=0)
gemma = dict(head_dim=16, sliding_window=4, query_pre_attn_scalar=24, attn_implementation="eager")
for layout, directory in zip(sys.argv[3::2], sys.argv[4::2]):
    torch.manual_seed(LAYOUTS.index(layout))
    if layout == "llama":  # Llama 3.1 rope scaling: head_dim 16 puts wavelengths in all 3 bands
        rope = dict(rope_type="llama3", factor=8.0, low_freq_factor=1.0, high_freq_factor=4.0,
                    original_max_position_embeddings=32)
        config = tf.LlamaConfig(**common, head_dim=16, rope_theta=10000.0, rope_scaling=rope,
                                tie_word_embeddings=False)
        model = tf.LlamaForCausalLM(config)
    elif layout == "qwen2":
        config = tf.Qwen2Config(**common, rope_theta=1000000.0, tie_word_embeddings=True)
        model = tf.Qwen2ForCausalLM(config)
    elif layout == "mistral":
        config = tf.MistralConfig(**common, head_dim=16, sliding_window=4,
                                  tie_word_embeddings=False)
        model = tf.MistralForCausalLM(config)
    elif layout == "qwen3":
        config = tf.Qwen3Config(**common, head_dim=16, rope_theta=1000000.0,
                                tie_word_embeddings=True)
        model = tf.Qwen3ForCausalLM(config)
    elif layout == "gemma2":  # small caps so that soft-capping changes the numbers
        config = tf.Gemma2Config(**common, **gemma, attn_logit_softcapping=2.0,
                                 final_logit_softcapping=3.0)
        model = tf.Gemma2ForCausalLM(config)
    else:
        config = tf.Gemma3TextConfig(**common, **gemma, rope_theta=100000.0,
                                     rope_local_base_freq=10.0,
                                     rope_scaling=dict(rope_type="linear", factor=8.0),
                                     layer_types=["sliding_attention", "full_attention"])
        model = tf.Gemma3ForCausalLM(config)
    with torch.no_grad():  # random everything (HF inits biases and Gemma's norms to 0)
        for p in model.parameters():
            p.normal_(0.0, 0.3 if p.ndim == 1 else 0.1)
    model = model.float().eval()
    model.save_pretrained(directory, safe_serialization=True)
    inputs = dict(input_ids=torch.tensor(batch["tokens"]),
                  attention_mask=torch.tensor(batch["mask"]))
    with torch.no_grad():
        out = model(**inputs).logits
        np.save(directory + "/reference_logits.npy", out.float().numpy())
        out = model.to(torch.bfloat16)(**inputs).logits
        np.save(directory + "/reference_logits_bf16.npy", out.float().numpy())
""".replace("LAYOUTS", repr(list(LAYOUTS)))


def _reference_python() -> str | None:
    if all(importlib.util.find_spec(m) for m in ("torch", "transformers")):
        return sys.executable
    return os.environ.get("EMBER_TORCH_PYTHON") or None


def _tokenizer_files(directory) -> Tokenizer:
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=300,
        special_tokens=["<unk>", "<s>", "</s>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    corpus = ["Which response is better? A or B. The answer is A.", "Response B: tie"] * 20
    tok.train_from_iterator(corpus, trainer=trainer)
    tok.save(str(directory / "tokenizer.json"))
    (directory / "tokenizer_config.json").write_text(
        json.dumps({"bos_token": "<s>", "eos_token": "</s>"})
    )
    return tok


@pytest.fixture(scope="module")
def hf_checkpoints(tmp_path_factory):
    python = _reference_python()
    if python is None:
        pytest.skip("torch/transformers not importable and EMBER_TORCH_PYTHON not set")
    root = tmp_path_factory.mktemp("hf")
    tok = _tokenizer_files(root)
    texts = ["Which response is better?", "The answer is A. Response B was worse: tie"]
    ids = [[1, *tok.encode(t).ids] for t in texts]
    length = max(map(len, ids))
    tokens = [row + [2] * (length - len(row)) for row in ids]
    mask = [[1] * len(row) + [0] * (length - len(row)) for row in ids]
    (root / "tokens.json").write_text(json.dumps({"tokens": tokens, "mask": mask}))
    args = []
    for layout in LAYOUTS:
        (root / layout).mkdir()
        for name in ("tokenizer.json", "tokenizer_config.json"):
            shutil.copy(root / name, root / layout / name)
        args += [layout, str(root / layout)]
    subprocess.run(
        [python, "-c", REFERENCE, str(tok.get_vocab_size()), str(root / "tokens.json"), *args],
        check=True,
        env={**os.environ, "TRANSFORMERS_VERBOSITY": "error", "HF_HUB_OFFLINE": "1"},
    )
    return root, np.array(tokens), np.array(mask)


@pytest.fixture(params=LAYOUTS)
def hf_checkpoint(request, hf_checkpoints):
    root, tokens, mask = hf_checkpoints
    return request.param, root / request.param, tokens, mask


def test_logits_match_transformers(hf_checkpoint):
    layout, directory, tokens, mask = hf_checkpoint
    loaded = from_pretrained(directory)
    assert loaded.config.qkv_bias == (layout == "qwen2")
    assert loaded.config.tie_embeddings == (layout not in ("llama", "mistral"))
    assert loaded.config.qk_norm == (layout in ("qwen3", "gemma3"))
    ours = np.asarray(loaded.model(tokens, mask))
    reference = np.load(directory / "reference_logits.npy")
    real = mask.astype(bool)
    diff = np.abs(ours[real] - reference[real]).max()
    print(f"{layout}: max abs logit diff {diff:.2e}")
    assert diff < TOL, f"{layout}: max abs logit diff {diff}"


def test_bf16_logits_match_transformers(hf_checkpoint):
    layout, directory, tokens, mask = hf_checkpoint
    loaded = from_pretrained(directory, dtype=jnp.bfloat16)
    assert loaded.model.embed.embedding[...].dtype == jnp.bfloat16
    ours = loaded.model(tokens, mask)
    assert ours.dtype == jnp.bfloat16
    real = mask.astype(bool)
    reference = np.load(directory / "reference_logits.npy")[real]
    scale = np.abs(reference).max()
    diff = np.abs(np.asarray(ours, np.float32)[real] - reference).max() / scale
    torch_bf16 = np.load(directory / "reference_logits_bf16.npy")[real]
    theirs = np.abs(torch_bf16 - reference).max() / scale
    print(f"{layout}: bf16 relative max diff {diff:.2e} (transformers bf16: {theirs:.2e})")
    assert diff < BF16_TOL, f"{layout}: bf16 relative max logit diff {diff}"


def test_greedy_generation_matches_the_full_forward(hf_checkpoint):
    """Cached decoding (left-padded prompts, sliding windows over the cache) picks the argmax
    of the full forward at every step."""
    layout, directory, tokens, mask = hf_checkpoint
    model = from_pretrained(directory).model
    prompts = [list(row[: int(m.sum())]) for row, m in zip(tokens, mask, strict=True)]
    prompts[1] = prompts[1][:9]  # different lengths: the shorter prompt is left-padded
    steps = 6
    generated = greedy_generate(
        model, prompts, steps, eos_id=None, pad_id=0, bucket=lambda n: n, batch_size=2
    )
    for prompt, new in zip(prompts, generated, strict=True):
        assert len(new) == steps
        sequence = np.array([prompt + new])
        argmax = np.asarray(model(sequence)).argmax(-1)[0]
        assert list(argmax[len(prompt) - 1 : -1]) == new, layout


def test_judge_and_generate_load_hf_directory(hf_checkpoint):
    _, directory, _, _ = hf_checkpoint
    judge = Judge.load(directory)
    assert judge.tokenizer.bos_id == 1 and judge.tokenizer.eos_id == 2
    task = Task(
        "pick",
        TaskType.PAIRWISE,
        "Pick",
        "Which is better?",
        ("response A", "response B"),
        ("choice",),
        ("A", "B", "tie"),
    )
    examples = [Example("pick", {"response A": "yes", "response B": "no"}, id="1")]
    verdicts = judge.judge({"pick": task}, examples, share_prefix=False)
    assert abs(sum(verdicts[0].probabilities.values()) - 1.0) < 1e-5
    # The two orders' shared prefix through the key/value cache (windows over the cache
    # included) gives the same verdict as the plain forward.
    (shared,) = judge.judge({"pick": task}, examples, share_prefix=True)
    for label, p in verdicts[0].probabilities.items():
        assert abs(shared.probabilities[label] - p) < 1e-5, (label, p, shared.probabilities)
    ids = [judge.tokenizer.label_token_id(label) for label in task.labels]
    assert len(set(ids)) == 3
    (generation,) = judge.generate({"pick": task}, examples, max_new_tokens=5)
    assert len(generation.token_ids) <= 5 and isinstance(generation.text, str)


BASE_CONFIG = dict(
    vocab_size=64,
    hidden_size=32,
    intermediate_size=48,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
)


@pytest.mark.parametrize(
    ("config", "error"),
    [
        (dict(model_type="gpt2"), "unsupported model_type 'gpt2'"),
        (dict(model_type="gemma3"), "multimodal Gemma 3"),
        (
            dict(model_type="llama", rope_scaling=dict(rope_type="yarn", factor=4.0)),
            "unsupported rope_type 'yarn'",
        ),
        (dict(model_type="llama", rope_scaling=dict(type="dynamic")), "'dynamic'"),
        (dict(model_type="llama", rope_scaling=dict(rope_type="llama3")), "lacks 'factor'"),
        (dict(model_type="llama", partial_rotary_factor=0.5), "partial_rotary_factor"),
        (dict(model_type="llama", mlp_bias=True), "mlp_bias"),
        (dict(model_type="mistral", attention_bias=True), "attention_bias"),
        (dict(model_type="qwen3", attention_bias=True), "attention_bias"),
        (dict(model_type="llama", hidden_act="gelu"), "activation 'gelu'"),
        (dict(model_type="gemma2", hidden_activation="gelu"), "activation 'gelu'"),
        (dict(model_type="gemma3_text", use_bidirectional_attention=True), "bidirectional"),
        (
            dict(model_type="qwen3", layer_types=["full_attention", "chunked_attention"]),
            "chunked_attention",
        ),
        (
            dict(
                model_type="qwen2",
                layer_types=["full_attention", "sliding_attention"],
                sliding_window=None,
            ),
            "no sliding_window",
        ),
    ],
)
def test_options_ember_cannot_run_exactly_are_refused(config, error):
    with pytest.raises(ValueError, match=error):
        config_from_hf({**BASE_CONFIG, **config})


def test_family_options_from_config_json():
    gemma2 = config_from_hf({**BASE_CONFIG, "model_type": "gemma2", "sliding_window": 8})
    assert gemma2.layer_types == ("sliding", "full") and gemma2.sliding_window == 8
    assert (gemma2.attn_softcap, gemma2.final_softcap) == (50.0, 30.0)  # transformers' defaults
    assert gemma2.query_scale == 256**-0.5 and gemma2.head_dim == 256
    assert gemma2.tie_embeddings and gemma2.norm_offset == 1.0 and gemma2.activation == "gelu_tanh"
    gemma3 = config_from_hf(
        {
            **BASE_CONFIG,
            "model_type": "gemma3_text",
            "num_hidden_layers": 7,
            "sliding_window": 16,
            "rope_scaling": {"rope_type": "linear", "factor": 8.0},
        }
    )  # the default pattern: every 6th layer global
    assert gemma3.layer_types == ("sliding",) * 5 + ("full", "sliding")
    assert gemma3.rope_type == "linear" and gemma3.rope_factor == 8.0
    assert gemma3.local_rope_theta == 10000.0 and gemma3.qk_norm
    nested = {  # rope parameters per layer type, as newer configs write them
        "full_attention": {"rope_type": "linear", "factor": 8.0, "rope_theta": 1e6},
        "sliding_attention": {"rope_type": "default", "rope_theta": 500.0},
    }
    gemma3 = config_from_hf({**BASE_CONFIG, "model_type": "gemma3_text", "rope_parameters": nested})
    assert (gemma3.rope_type, gemma3.rope_factor, gemma3.rope_theta) == ("linear", 8.0, 1e6)
    assert gemma3.local_rope_theta == 500.0
    with pytest.raises(ValueError, match="separate sliding-layer rope"):
        config_from_hf({**BASE_CONFIG, "model_type": "llama", "rope_parameters": nested})
    llama = config_from_hf(
        {
            **BASE_CONFIG,
            "model_type": "llama",
            "rope_scaling": {
                "rope_type": "llama3",
                "factor": 32.0,
                "low_freq_factor": 1.0,
                "high_freq_factor": 4.0,
                "original_max_position_embeddings": 8192,
            },
        }
    )
    assert (llama.rope_type, llama.rope_factor, llama.rope_original_max_len) == (
        "llama3",
        32.0,
        8192,
    )
    mistral = config_from_hf({**BASE_CONFIG, "model_type": "mistral", "sliding_window": 4096})
    assert mistral.layer_types == ("sliding", "sliding")
    assert mistral.max_len == 131072  # no longer capped at the window
    no_window = {**BASE_CONFIG, "model_type": "mistral", "sliding_window": None}
    assert config_from_hf(no_window).layer_types is None
    qwen2 = {**BASE_CONFIG, "model_type": "qwen2", "sliding_window": 4096, "max_window_layers": 1}
    assert config_from_hf(qwen2).layer_types is None  # use_sliding_window false
    assert config_from_hf({**qwen2, "use_sliding_window": True}).layer_types == ("full", "sliding")
