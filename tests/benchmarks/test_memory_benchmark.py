"""benchmarks.memory counts from the model's own shapes: parameter totals of the real bases,
16 bytes per parameter of full fine-tuning state, FSDP shards of an eighth, LoRA adapter
counts, and activations extrapolated from 2 and 4 layers equal to a direct trace."""

import jax
import numpy as np
import pytest

from benchmarks.memory import (
    BASES,
    _abstract_params,
    _residuals,
    activations,
    base_report,
    model_config,
)

# Published totals (the safetensors index / model cards): embeddings, blocks and final norm.
KNOWN = {
    "gemma-2-2b": 2_614_341_888,
    "llama-2-7b": 6_738_415_616,
    "mistral-7b": 7_241_732_096,
    "gemma-2-9b": 9_241_705_984,
}


@pytest.mark.parametrize("name", sorted(KNOWN))
def test_parameter_counts_match_known_totals(name):
    hf = BASES[name]
    config, note = model_config(hf)
    count = sum(int(np.prod(x.shape)) for x in jax.tree.leaves(_abstract_params(config, "f4")))
    # A Llama-shaped stand-in (a checkout without Gemma) lacks Gemma's 2 extra norms per layer.
    missing = 2 * hf["hidden_size"] * hf["num_hidden_layers"] if note else 0
    assert count == KNOWN[name] - missing


def test_state_bytes_and_fsdp_shards():
    report = base_report("mistral-7b", batch=1, seq=64, rank=16, targets=["q", "k", "v", "o"])
    p = report["params"]
    assert p == KNOWN["mistral-7b"]
    # rank 16 on q (4096 -> 4096), k, v (4096 -> 1024), o, in 32 layers
    assert report["adapter_params"] == 32 * 16 * (2 * 8192 + 2 * 5120)
    gpu, tpu = report["devices"]["gpu_80gb"], report["devices"]["tpu_v5e_8"]
    full = gpu["full"]
    assert report["dtypes"]["full_params_grads_adamw"] == "float32"  # the trainer's default
    assert full["params"] == full["grads"] == 4 * p
    assert 8 * p <= full["adamw"] < 8 * p + 64  # mu, nu + step counters
    assert full["compute_weight_copies"] >= 2 * p - 2 * 32000 * 4096  # bf16 (lm_head at 1 row)
    assert report["dtypes"]["lora_base"] == "bfloat16"
    assert gpu["lora"]["base"] == 2 * p
    assert gpu["lora"]["adapter_adamw"] >= 2 * gpu["lora"]["adapters"]
    # FSDP over 8: every big array split in 8 (norm scales, under 2^14 elements, replicated).
    assert 4 * p / 8 <= tpu["full"]["params"] < 1.001 * 4 * p / 8
    assert not gpu["full"]["fits"]["remat_flash"]  # 7B x 16 bytes > 80 GiB
    assert gpu["lora"]["fits"]["remat_flash"]
    for regime in ("full", "lora"):
        total = gpu[regime]["total"]
        assert total["remat_flash"] < total["remat"] < total["no_remat"]
        assert total["remat_flash"] < total["no_remat_flash"] < total["no_remat"]


def test_activation_extrapolation_equals_direct_trace():
    hf = {**BASES["llama-2-7b"], "hidden_size": 64, "intermediate_size": 160,
          "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 300,
          "num_hidden_layers": 7}  # fmt: skip
    act = activations(hf, batch=3, seq=32)
    direct = _residuals(model_config(hf)[0], 3, 32)
    assert act["activations"] + act["per_step_copies"] == sum(direct.values())
    assert act["activations_flash"] + act["per_step_copies"] < sum(direct.values())
    assert 0 < act["activations_remat_flash"] < act["activations_flash"]
