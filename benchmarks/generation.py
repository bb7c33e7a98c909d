"""Batched greedy generation: Ember's jitted KV-cache decode against transformers' `generate`.

    python -m benchmarks.generation [--quick] [--batch 8] [--prompt-len 48] [--new-tokens 64]

One random Llama checkpoint is written by transformers' own `save_pretrained` (in the Python
that has torch + transformers: this one if they import, else `$EMBER_TORCH_PYTHON`, else
`.venv-torch/bin/python`), loaded by `judging.hf.from_pretrained`, and both sides decode the same
batch of prompts (random token ids, lengths from prompt-len/2 to prompt-len, left-padded) greedily
for exactly `--new-tokens` tokens (no EOS):

- `ember`: `judging.generate.greedy_generate` (prefill + `lax.while_loop` decode over a key/value
  cache, one jitted function per bucketed shape); the first call compiles (reported apart),
  then the best of `--repeats` calls is timed.
- `transformers`: `model.generate(do_sample=False)` with its default dynamic cache, float32,
  `torch.no_grad`, one warm-up call, then the best of `--repeats` calls.

Tokens/s = batch x new tokens / seconds (prefill included on both sides). The JSON holds both
rates, `ratio` = ember / transformers, and `tokens_equal` / `matching_fraction` (the two sides'
generated ids compared position by position). Both sides use this machine's CPU cores (torch's
intra-op threads, `--torch-threads` to set them, and XLA's); the two run one after the other.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

# argv: spec.json (sizes, prompts, new_tokens, repeats, directory). Writes the checkpoint, runs
# generate and prints {"tokens": [[...]], "seconds": best, "warmup_seconds": first}.
REFERENCE = r"""
import json, sys, time
import torch
import transformers as tf

spec = json.loads(open(sys.argv[1]).read())
if spec.get("torch_threads"):
    torch.set_num_threads(spec["torch_threads"])
torch.manual_seed(0)
config = tf.LlamaConfig(vocab_size=spec["vocab"], hidden_size=spec["hidden"],
                        intermediate_size=spec["ffn"], num_hidden_layers=spec["layers"],
                        num_attention_heads=spec["heads"], num_key_value_heads=spec["kv_heads"],
                        max_position_embeddings=1024, rms_norm_eps=1e-6, bos_token_id=1,
                        eos_token_id=2, pad_token_id=0, tie_word_embeddings=False)
model = tf.LlamaForCausalLM(config)
with torch.no_grad():  # peaked logits: greedy ties between the two float paths stay unlikely
    for p in model.parameters():
        p.normal_(0.0, 0.3 if p.ndim == 1 else 0.08)
        if p.ndim == 1:
            p.add_(1.0)
model = model.float().eval()
model.save_pretrained(spec["directory"], safe_serialization=True)
prompts = spec["prompts"]
width = max(map(len, prompts))
ids = torch.tensor([[0] * (width - len(p)) + p for p in prompts])
mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts])
gen = tf.GenerationConfig(max_new_tokens=spec["new_tokens"], min_new_tokens=spec["new_tokens"],
                          do_sample=False, eos_token_id=None, pad_token_id=0)
def run():
    start = time.perf_counter()
    with torch.no_grad():
        out = model.generate(input_ids=ids, attention_mask=mask, generation_config=gen)
    return out[:, width:], time.perf_counter() - start
out, first = run()
best = min(run()[1] for _ in range(spec["repeats"]))
print(json.dumps({"tokens": out.tolist(), "seconds": best, "warmup_seconds": first,
                  "threads": torch.get_num_threads(), "transformers": tf.__version__,
                  "torch": torch.__version__}))
"""

SIZES = {
    "full": dict(vocab=2048, hidden=256, ffn=688, layers=4, heads=8, kv_heads=4),
    "quick": dict(vocab=512, hidden=64, ffn=128, layers=2, heads=4, kv_heads=2),
}


def reference_python() -> str | None:
    if all(importlib.util.find_spec(m) for m in ("torch", "transformers")):
        return sys.executable
    env = os.environ.get("EMBER_TORCH_PYTHON")
    if env:
        return env
    local = ROOT / ".venv-torch" / "bin" / "python"
    return str(local) if local.exists() else None


def _write_tokenizer(directory: Path, vocab: int) -> None:
    """A word-level tokenizer covering the ids (from_pretrained needs one; prompts are ids)."""
    from tokenizers import Tokenizer, models, pre_tokenizers

    names = ["<pad>", "<s>", "</s>"] + [f"t{i}" for i in range(3, vocab)]
    tok = Tokenizer(models.WordLevel({n: i for i, n in enumerate(names)}, unk_token="<pad>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.save(str(directory / "tokenizer.json"))
    (directory / "tokenizer_config.json").write_text(
        json.dumps({"bos_token": "<s>", "eos_token": "</s>", "pad_token": "<pad>"})
    )


def _prompts(batch: int, prompt_len: int, vocab: int) -> list[list[int]]:
    rng = np.random.default_rng(0)
    lengths = np.linspace(max(1, prompt_len // 2), prompt_len, batch).astype(int)
    return [[1, *rng.integers(3, vocab, size=n - 1).tolist()] for n in lengths]


def _ember(directory: Path, prompts, new_tokens: int, repeats: int) -> dict:
    from judging.generate import greedy_generate
    from judging.hf import from_pretrained
    from judging.inference import bucket_length

    model = from_pretrained(directory).model

    def run():
        start = time.perf_counter()
        out = greedy_generate(
            model,
            prompts,
            new_tokens,
            eos_id=None,
            pad_id=0,
            bucket=lambda n: bucket_length(n, 1024),
            batch_size=len(prompts),
        )
        return out, time.perf_counter() - start

    out, first = run()
    best = min(run()[1] for _ in range(repeats))
    return {"tokens": out, "seconds": best, "warmup_seconds": first}


def run(
    size: str,
    batch: int,
    prompt_len: int,
    new_tokens: int,
    repeats: int,
    python: str,
    torch_threads: int | None = None,
) -> dict:
    sizes = SIZES[size]
    prompts = _prompts(batch, prompt_len, sizes["vocab"])
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp) / "llama"
        directory.mkdir()
        spec = dict(
            sizes,
            prompts=prompts,
            new_tokens=new_tokens,
            repeats=repeats,
            directory=str(directory),
            torch_threads=torch_threads,
        )
        (Path(tmp) / "spec.json").write_text(json.dumps(spec))
        env = {**os.environ, "TRANSFORMERS_VERBOSITY": "error", "HF_HUB_OFFLINE": "1"}
        done = subprocess.run(
            [python, "-c", REFERENCE, str(Path(tmp) / "spec.json")],
            check=True,
            capture_output=True,
            text=True,
            env=env,
        )
        theirs = json.loads(done.stdout.strip().splitlines()[-1])
        _write_tokenizer(directory, sizes["vocab"])
        ours = _ember(directory, prompts, new_tokens, repeats)
    generated = batch * new_tokens
    a, b = np.array(ours["tokens"]), np.array(theirs["tokens"])
    same = a.shape == b.shape and bool((a == b).all())
    ember_rate = generated / ours["seconds"]
    torch_rate = generated / theirs["seconds"]
    return {
        "benchmark": "generation",
        "model": {"family": "llama", **sizes},
        "batch": batch,
        "prompt_lengths": [len(p) for p in prompts],
        "new_tokens": new_tokens,
        "repeats": repeats,
        "ember": {
            "tokens_per_s": round(ember_rate, 1),
            "seconds": round(ours["seconds"], 4),
            "first_call_seconds_with_compile": round(ours["warmup_seconds"], 3),
        },
        "transformers": {
            "tokens_per_s": round(torch_rate, 1),
            "seconds": round(theirs["seconds"], 4),
            "first_call_seconds": round(theirs["warmup_seconds"], 3),
            "torch_threads": theirs["threads"],
            "versions": {"transformers": theirs["transformers"], "torch": theirs["torch"]},
        },
        "ratio": round(ember_rate / torch_rate, 2),
        "tokens_equal": same,
        "matching_fraction": round(float((a == b).mean()), 4) if a.shape == b.shape else 0.0,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny model, few tokens (smoke)")
    parser.add_argument("--batch", type=int, default=None)
    parser.add_argument("--prompt-len", type=int, default=None)
    parser.add_argument("--new-tokens", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--torch-threads", type=int, default=None, help="default: torch's own")
    args = parser.parse_args(argv)
    python = reference_python()
    if python is None:
        raise SystemExit(
            "generation benchmark: no Python with torch + transformers "
            "(set EMBER_TORCH_PYTHON or create .venv-torch)"
        )
    quick = args.quick
    report = run(
        "quick" if quick else "full",
        args.batch or (4 if quick else 8),
        args.prompt_len or (12 if quick else 48),
        args.new_tokens or (8 if quick else 64),
        args.repeats or (1 if quick else 3),
        python,
        args.torch_threads,
    )
    print(json.dumps(report))


if __name__ == "__main__":
    main()
