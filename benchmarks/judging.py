"""Judge throughput on CPU: pairwise judgments/s for `tiny` and `small`, vs transformers, MFU.

    python -m benchmarks.judging [--quick] [--sizes tiny small]

For each size: a random model (vocab 8192, untied head) is written as a Hugging Face Llama
checkpoint and loaded with `judging.hf.from_pretrained`, so both sides run the same weights. The
work is N pairwise judgments in both orders (2N prompts) with lengths drawn from a realistic mix
(`sample_pairs`: context ~120 tokens, responses ~60 each, log-normal). Ours: `Judge.score_prompts`
(length-sorted bucketed batches of 32, the label position only projected to the vocabulary, the
two orders' shared prefix computed once where that pays: `judging/prefix.py`), timed after a
warm-up run that compiles every bucket; `plain_seconds`/`mfu_plain` are the same without prefix
sharing. `mfu` is the plain path's (every prompt's full forward, computed); with prefix sharing
the same FLOP count over the shorter time is reported as `effective_mfu_with_prefix_sharing`
(work skipped, not done faster). Transformers: `LlamaForCausalLM` on PyTorch CPU float32,
as a user would write it: length-sorted batches of 32, right padding, attention mask,
`model(...).logits` at each row's last token, under `torch.inference_mode()`. It runs in this
process if torch and transformers import, else in `$EMBER_TORCH_PYTHON`; else its fields are null.

MFU: useful forward FLOPs (real tokens only; matmuls 2*params per token, causal attention, one
vocabulary projection per row) per second over the machine's float32 peak, measured as the best
of several 2048^3 `jnp.matmul`s.
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

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from safetensors.numpy import save_file

from judging.hf import from_pretrained, to_hf_tensors
from judging.inference import Judge
from judging.model import Decoder, ModelConfig
from judging.prefix import common_prefix_length

VOCAB = 8192
BATCH = 32

TORCH_SIDE = r"""
import json, sys, time
import torch
from transformers import LlamaForCausalLM

directory, prompts_path, batch = sys.argv[1], sys.argv[2], int(sys.argv[3])
prompts = json.loads(open(prompts_path).read())
model = LlamaForCausalLM.from_pretrained(directory, torch_dtype=torch.float32).eval()

def run():
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
    out = [None] * len(prompts)
    with torch.inference_mode():
        for start in range(0, len(order), batch):
            chunk = order[start:start + batch]
            length = max(len(prompts[i]) for i in chunk)
            ids = torch.zeros((len(chunk), length), dtype=torch.long)
            mask = torch.zeros((len(chunk), length), dtype=torch.long)
            for r, i in enumerate(chunk):
                ids[r, :len(prompts[i])] = torch.tensor(prompts[i])
                mask[r, :len(prompts[i])] = 1
            logits = model(input_ids=ids, attention_mask=mask).logits
            last = mask.sum(1) - 1
            picked = torch.log_softmax(logits[torch.arange(len(chunk)), last], -1)
            for r, i in enumerate(chunk):
                out[i] = picked[r, :4].tolist()
    return out

run()  # warm-up
start = time.perf_counter()
out = run()
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "head": out[:2], "threads": torch.get_num_threads()}))
"""


def measure_peak_flops(n: int = 2048, repeats: int = 5) -> float:
    a = jnp.ones((n, n), jnp.float32)
    f = jax.jit(lambda x, y: x @ y)
    f(a, a).block_until_ready()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        f(a, a).block_until_ready()
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best


def forward_flops(config: ModelConfig, lengths: list[int]) -> float:
    d, e = config.d_model, config.resolved_head_dim
    h, k, f = config.n_heads, config.n_kv_heads, config.d_ff
    per_token = 2 * config.n_layers * (d * h * e * 2 + 2 * d * k * e + 3 * d * f)
    total = 0.0
    for n in lengths:
        attention = config.n_layers * 2 * 2 * h * e * n * (n + 1) / 2  # QK^T and PV, causal
        total += per_token * n + attention + 2 * d * config.vocab_size
    return total


def sample_pairs(n: int, max_len: int, seed: int) -> list[tuple[list[int], list[int]]]:
    """n pairwise prompts in both orders: (instructions + context + A + B + tail, ... B + A ...).

    Lengths are log-normal: context (instructions, prompt, conversation) around 120 tokens,
    each response around 60, a 6-token EVALUATION tail; a prompt over max_len is cut from the
    left (as `encode_prompt` does)."""
    rng = np.random.default_rng(seed)
    pairs = []
    for _ in range(n):
        context, a, b = (
            rng.integers(3, VOCAB, size=int(np.clip(rng.lognormal(np.log(m), 0.6), 8, max_len)))
            .tolist()
            for m in (120, 60, 60)
        )
        tail = [7, 8, 9, 10, 11, 12]
        pairs.append(((context + a + b + tail)[-max_len:], (context + b + a + tail)[-max_len:]))
    return pairs


def write_hf_llama(directory: Path, model: Decoder) -> None:
    c = model.config
    directory.mkdir(parents=True, exist_ok=True)
    config = {
        "model_type": "llama",
        "architectures": ["LlamaForCausalLM"],
        "vocab_size": c.vocab_size,
        "hidden_size": c.d_model,
        "intermediate_size": c.d_ff,
        "num_hidden_layers": c.n_layers,
        "num_attention_heads": c.n_heads,
        "num_key_value_heads": c.n_kv_heads,
        "head_dim": c.resolved_head_dim,
        "max_position_embeddings": c.max_len,
        "rms_norm_eps": c.norm_eps,
        "rope_theta": c.rope_theta,
        "hidden_act": "silu",
        "tie_word_embeddings": False,
        "torch_dtype": "float32",
        "bos_token_id": 1,
        "eos_token_id": 2,
    }
    (directory / "config.json").write_text(json.dumps(config))
    save_file(to_hf_tensors(model), str(directory / "model.safetensors"), {"format": "pt"})


def _torch_python() -> str | None:
    if all(importlib.util.find_spec(m) for m in ("torch", "transformers")):
        return sys.executable
    return os.environ.get("EMBER_TORCH_PYTHON") or None


def bench_size(size: str, n_judgments: int, peak: float, workdir: Path) -> dict:
    config = ModelConfig.named(size, vocab_size=VOCAB, tie_embeddings=False, logit_scale=1.0)
    directory = workdir / size
    write_hf_llama(directory, Decoder(config, rngs=nnx.Rngs(0)))
    loaded = from_pretrained(directory) if (directory / "tokenizer.json").exists() else None
    if loaded is None:  # no tokenizer needed for token-id prompts: build the Judge by hand
        from tokenizers import Tokenizer, models

        from judging.checkpoint import LoadedModel
        from judging.hf import (
            HFJudgeTokenizer,
            config_from_hf,
            model_from_tensors,
            read_safetensors,
        )

        hf_config = json.loads((directory / "config.json").read_text())
        cfg = config_from_hf(hf_config)
        tok = HFJudgeTokenizer(Tokenizer(models.WordLevel({"<unk>": 0}, "<unk>")), pad_id=0)
        loaded = LoadedModel(model_from_tensors(cfg, read_safetensors(directory)), cfg, tok, {})
    judge = Judge(loaded)
    pairs = sample_pairs(n_judgments, config.max_len, seed=2)
    prompts = [prompt for pair in pairs for prompt in pair]
    rows = [(2 * i, 2 * i + 1) for i in range(len(pairs))]
    lengths = [len(p) for p in prompts]

    def run(share_prefix: bool | None) -> tuple[float, np.ndarray]:
        judge.score_prompts(prompts, rows, BATCH, share_prefix)  # compile every bucket
        start = time.perf_counter()
        out = judge.score_prompts(prompts, rows, BATCH, share_prefix)
        return time.perf_counter() - start, out

    plain_seconds, ours = run(share_prefix=False)
    seconds, shared = run(share_prefix=None)
    flops = forward_flops(loaded.config, lengths)
    result = {
        "size": size,
        "judgments": n_judgments,
        "prompts": len(prompts),
        "mean_prompt_tokens": float(np.mean(lengths)),
        "shared_prefix_fraction": round(
            sum(common_prefix_length(a, b) for a, b in pairs) / sum(lengths) * 2, 3
        ),
        "seconds": round(seconds, 4),
        "judgments_per_second": round(n_judgments / seconds, 2),
        "plain_seconds": round(plain_seconds, 4),
        "shared_prefix_speedup": round(plain_seconds / seconds, 3),
        "max_abs_logprob_diff_shared_vs_plain": float(np.abs(shared - ours).max()),
        "achieved_flops": flops / seconds,
        "mfu": round(flops / plain_seconds / peak, 4),
        "effective_mfu_with_prefix_sharing": round(flops / seconds / peak, 4),
        "transformers_seconds": None,
        "transformers_judgments_per_second": None,
        "ratio_vs_transformers": None,
        "max_abs_logprob_diff_vs_transformers": None,
    }
    python = _torch_python()
    if python is not None:
        prompts_path = workdir / f"{size}_prompts.json"
        prompts_path.write_text(json.dumps(prompts))
        proc = subprocess.run(
            [python, "-c", TORCH_SIDE, str(directory), str(prompts_path), str(BATCH)],
            check=True,
            capture_output=True,
            text=True,
            env={**os.environ, "TRANSFORMERS_VERBOSITY": "error", "HF_HUB_OFFLINE": "1"},
        )
        torch_out = json.loads(proc.stdout.strip().splitlines()[-1])
        t_seconds = torch_out["seconds"]
        diff = float(np.abs(np.asarray(torch_out["head"]) - ours[:2, :4]).max())
        result.update(
            transformers_seconds=round(t_seconds, 4),
            transformers_judgments_per_second=round(n_judgments / t_seconds, 2),
            ratio_vs_transformers=round(t_seconds / seconds, 3),
            max_abs_logprob_diff_vs_transformers=diff,
            torch_threads=torch_out["threads"],
        )
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.judging")
    parser.add_argument("--quick", action="store_true", help="small workload (< 1 minute)")
    parser.add_argument("--sizes", nargs="+", default=["tiny", "small"])
    args = parser.parse_args(argv)
    n = {"tiny": 64, "small": 32} if args.quick else {"tiny": 512, "small": 128}
    peak = measure_peak_flops()
    results = {"device": jax.devices()[0].device_kind, "peak_matmul_flops": peak, "sizes": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            results["sizes"][size] = bench_size(size, n.get(size, 64), peak, Path(tmp))
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
