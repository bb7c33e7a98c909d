"""from_pretrained parity with Hugging Face transformers (PyTorch CPU, float32).

A tiny random checkpoint is written in each HF layout (Llama untied, Qwen2 tied with q/k/v
biases, Mistral) by transformers' own `save_pretrained`, loaded here with
`judging.hf.from_pretrained`, and the logits of a right-padded batch are compared at the real
positions.

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

import numpy as np
import pytest
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

from judging.hf import from_pretrained
from judging.inference import Judge
from judging.task_format import Example, Task, TaskType

LAYOUTS = ("llama", "qwen2", "mistral")
TOL = 1e-4

# Run by the reference Python, one process for all layouts (torch imports slowly):
# argv = [vocab_size, tokens.json, layout, directory, layout, directory, ...].
REFERENCE = r"""
import json, sys
import numpy as np
import torch
import transformers as tf

vocab, batch = int(sys.argv[1]), json.loads(open(sys.argv[2]).read())
common = dict(vocab_size=vocab, hidden_size=48, intermediate_size=80, num_hidden_layers=2,
              num_attention_heads=6, num_key_value_heads=2, max_position_embeddings=64,
              rms_norm_eps=1e-6, bos_token_id=1, eos_token_id=2)
for layout, directory in zip(sys.argv[3::2], sys.argv[4::2]):
    torch.manual_seed({"llama": 0, "qwen2": 1, "mistral": 2}[layout])
    if layout == "llama":
        config = tf.LlamaConfig(**common, rope_theta=500000.0, tie_word_embeddings=False)
        model = tf.LlamaForCausalLM(config)
    elif layout == "qwen2":
        config = tf.Qwen2Config(**common, rope_theta=1000000.0, tie_word_embeddings=True)
        model = tf.Qwen2ForCausalLM(config)
    else:
        config = tf.MistralConfig(**common, head_dim=16, sliding_window=64,
                                  tie_word_embeddings=False)
        model = tf.MistralForCausalLM(config)
    with torch.no_grad():  # random everything (HF inits biases to 0 and norms to 1)
        for p in model.parameters():
            p.normal_(0.0, 0.3 if p.ndim == 1 else 0.1)
    model = model.float().eval()
    model.save_pretrained(directory, safe_serialization=True)
    with torch.no_grad():
        out = model(input_ids=torch.tensor(batch["tokens"]),
                    attention_mask=torch.tensor(batch["mask"])).logits
    np.save(directory + "/reference_logits.npy", out.float().numpy())
"""


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
    assert loaded.config.tie_embeddings == (layout == "qwen2")
    ours = np.asarray(loaded.model(tokens, mask))
    reference = np.load(directory / "reference_logits.npy")
    real = mask.astype(bool)
    diff = np.abs(ours[real] - reference[real]).max()
    print(f"{layout}: max abs logit diff {diff:.2e}")
    assert diff < TOL, f"{layout}: max abs logit diff {diff}"


def test_judge_and_generate_load_hf_directory(hf_checkpoints):
    directory = hf_checkpoints[0] / "llama"  # one layout: each costs seconds of jit compiles
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
    verdicts = judge.judge({"pick": task}, examples)
    assert abs(sum(verdicts[0].probabilities.values()) - 1.0) < 1e-5
    ids = [judge.tokenizer.label_token_id(label) for label in task.labels]
    assert len(set(ids)) == 3
    (generation,) = judge.generate({"pick": task}, examples, max_new_tokens=5)
    assert len(generation.token_ids) <= 5 and isinstance(generation.text, str)
