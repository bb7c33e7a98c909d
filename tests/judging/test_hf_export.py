"""The merged Hugging Face export (judging/hf_export.py) reloads in `transformers` with the same
logits (float32, within 1e-4) as the Ember model it came from: LoRA adapters merged onto a Qwen2
base (tied, q/k/v biases) and onto a Gemma 3 text base (q/k norms, (1 + w) sandwich norms, local
and global rope), a full fine-tune of a Llama base (the base's config.json kept), and a model
trained from scratch with Ember's own tokenizer (tied with a d_model ** -0.5 output scale,
written untied). transformers runs in $EMBER_TORCH_PYTHON as in tests/judging/test_hf.py."""

import json
import os
import subprocess

import numpy as np
import pytest
from flax import nnx

from judging.checkpoint import load_checkpoint, save_checkpoint
from judging.demo_tasks import DEMO_TASKS, generate_demo_examples
from judging.hf import from_pretrained
from judging.hf_export import export_hf
from judging.model import Decoder, ModelConfig
from judging.task_format import render_example
from tests.judging.test_hf import _reference_python
from tests.training.pretrained.hf_dirs import write_random_hf
from training.config import TrainConfig
from training.loop import train
from training.loop.data import corpus_tokenizer

TOL = 1e-4
TASKS = {t.name: t for t in DEMO_TASKS}
EXAMPLES = generate_demo_examples(8, seed=2)
TEXTS = [render_example(TASKS[e.task], e) for e in generate_demo_examples(40, seed=1)]
STEPS = TrainConfig(steps=2, batch_size=4, learning_rate=1e-2, warmup_steps=1, log_every=1)

# argv = [tokens.json, directory, ...]: each exported directory's logits to DIR/torch_logits.npy
REFERENCE = r"""
import json, sys
import numpy as np
import torch
import transformers as tf

batch = json.loads(open(sys.argv[1]).read())
for directory in sys.argv[2:]:
    model = tf.AutoModelForCausalLM.from_pretrained(
        directory, torch_dtype=torch.float32, attn_implementation="eager").eval()
    tokens = torch.tensor(batch[directory]["tokens"])
    with torch.no_grad():
        out = model(input_ids=tokens, attention_mask=torch.tensor(batch[directory]["mask"]))
    np.save(directory + "/torch_logits.npy", out.logits.float().numpy())
"""


def _batch(tokenizer) -> tuple[np.ndarray, np.ndarray]:
    bos = [] if tokenizer.bos_id is None else [tokenizer.bos_id]
    rows = [bos + tokenizer.encode(t)[:30] for t in ("What is 2 + 3?", TEXTS[0], TEXTS[1])]
    length = max(map(len, rows))
    tokens = np.array([r + [tokenizer.pad_id] * (length - len(r)) for r in rows])
    mask = np.array([[1] * len(r) + [0] * (length - len(r)) for r in rows])
    return tokens, mask


def test_export_reloads_in_transformers_with_the_same_logits(tmp_path):
    python = _reference_python()
    if python is None:
        pytest.skip("torch/transformers not importable and EMBER_TORCH_PYTHON not set")
    qwen2 = write_random_hf(tmp_path / "qwen2", "qwen2", TEXTS, seed=1)
    llama = write_random_hf(tmp_path / "llama", "llama", TEXTS, seed=2)
    gemma3 = write_random_hf(tmp_path / "gemma3", "gemma3_text", TEXTS, seed=4)
    lora = STEPS.replace(
        lora_rank=4, lora_base_dtype="float32", lora_targets=["q", "k", "v", "o", "gate", "down"]
    )
    train(TASKS, EXAMPLES, lora, tmp_path / "adapter", init_checkpoint=qwen2)
    train(TASKS, EXAMPLES, lora, tmp_path / "gemma3_adapter", init_checkpoint=gemma3)
    train(TASKS, EXAMPLES, STEPS, tmp_path / "full", init_checkpoint=llama)
    tokenizer = corpus_tokenizer(TASKS, EXAMPLES, 400, TEXTS)
    config = ModelConfig.named(
        "tiny", vocab_size=tokenizer.vocab_size, d_model=32, n_layers=2, d_ff=64, max_len=128
    )
    scratch = Decoder(config, rngs=nnx.Rngs(3))
    save_checkpoint(tmp_path / "scratch", scratch, config, tokenizer, {})

    sources = {"adapter": tmp_path / "adapter", "full": tmp_path / "full"}
    sources["scratch"] = tmp_path / "scratch"
    sources["gemma3_adapter"] = tmp_path / "gemma3_adapter"
    batch, ours = {}, {}
    for name, source in sources.items():
        out = export_hf(source, tmp_path / f"hf_{name}")
        loaded = load_checkpoint(source)
        tokens, mask = _batch(loaded.tokenizer)
        ours[name] = (np.asarray(loaded.model(tokens, mask)), mask.astype(bool), out)
        batch[str(out)] = {"tokens": tokens.tolist(), "mask": mask.tolist()}
        # The export also loads back into Ember with the same model config.
        assert from_pretrained(out).config.n_layers == loaded.config.n_layers
    hf_config = json.loads((tmp_path / "hf_scratch" / "config.json").read_text())
    assert hf_config["model_type"] == "llama" and hf_config["tie_word_embeddings"] is False
    assert (
        json.loads((tmp_path / "hf_adapter" / "config.json").read_text())["model_type"] == "qwen2"
    )
    (tmp_path / "tokens.json").write_text(json.dumps(batch))
    subprocess.run(
        [python, "-c", REFERENCE, str(tmp_path / "tokens.json"), *batch],
        check=True,
        env={**os.environ, "TRANSFORMERS_VERBOSITY": "error", "HF_HUB_OFFLINE": "1"},
    )
    for name, (logits, real, out) in ours.items():
        reference = np.load(out / "torch_logits.npy")
        diff = np.abs(logits[real] - reference[real]).max()
        print(f"{name}: max abs logit diff {diff:.2e}")
        assert diff < TOL, f"{name}: max abs logit diff {diff}"
