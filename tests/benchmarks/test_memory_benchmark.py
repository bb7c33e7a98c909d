"""benchmarks.memory counts from the model's own shapes: parameter totals of the real bases,
16 bytes per parameter of full fine-tuning state, FSDP shards of an eighth, LoRA adapter
counts, activations extrapolated from 2 and 4 layers equal to a direct trace, and the traced
activations close to XLA's own buffers."""

import jax
import numpy as np
import pytest

from benchmarks.memory import (
    BASES,
    _residuals,
    activations,
    base_report,
    model_config,
    saved,
    train_state,
    xla_check,
)
from training.config import TrainConfig

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
    params = train_state(config, TrainConfig())["trained"]
    count = sum(int(np.prod(x.shape)) for x in jax.tree.leaves(params))
    # A Llama-shaped stand-in (a checkout without Gemma) lacks Gemma's 2 extra norms per layer.
    missing = 2 * hf["hidden_size"] * hf["num_hidden_layers"] if note else 0
    assert count == KNOWN[name] - missing


def test_state_bytes_and_fsdp_shards():
    report = base_report("mistral-7b", batch=1, seq=64, rank=16, targets=["q", "k", "v", "o"])
    p = report["params"]
    assert p == KNOWN["mistral-7b"]
    # training/lora.py's adapters: rank 16 on q (4096 -> 4096), k, v (4096 -> 1024), o, 32 layers
    assert report["adapter_params"] == 32 * 16 * (2 * 8192 + 2 * 5120)
    assert report["dtypes"] == {
        "full_params_grads_adamw": "float32",  # the trainer's defaults
        "lora_base": "bfloat16",
        "adapters_grads_adamw": "float32",
        "compute": "bfloat16",
    }
    gpu, tpu = report["devices"]["gpu_80gb"], report["devices"]["tpu_v5e_8"]
    full, lora = gpu["full"], gpu["lora"]
    assert full["trained_params"] == full["grads"] == 4 * p and full["frozen_params"] == 0
    assert 8 * p <= full["optimizer"] < 8 * p + 64  # mu, nu + step counters
    assert full["compute_weight_copies"] >= 2 * p - 2 * 32000 * 4096  # bf16 (lm_head at 1 row)
    a = report["adapter_params"]
    assert lora["frozen_params"] == 2 * p and lora["trained_params"] == lora["grads"] == 4 * a
    assert 8 * a <= lora["optimizer"] < 8 * a + 64
    assert lora["compute_weight_copies"] < 4 * a  # the bf16 base is read as it is, not copied
    # FSDP over 8: every big array split in 8 (norm scales, under 2^14 elements, replicated).
    assert 4 * p / 8 <= tpu["full"]["trained_params"] < 1.001 * 4 * p / 8
    assert not gpu["full"]["fits"]["remat_flash"]  # 7B x 16 bytes > 80 GiB
    assert gpu["lora"]["fits"]["remat_flash"]
    # A frozen base needs no dW: LoRA keeps fewer activations than full fine-tuning.
    assert 0 < lora["activations_flash"] < full["activations_flash"]
    for regime in ("full", "lora"):
        total = gpu[regime]["total"]
        assert total["remat_flash"] < total["remat"] < total["no_remat"]
        assert total["remat_flash"] < total["no_remat_flash"] < total["no_remat"]


@pytest.mark.parametrize("remat", [False, True])
@pytest.mark.parametrize("lora_rank", [0, 4])
def test_extrapolation_equals_direct_trace(lora_rank, remat):
    hf = {**BASES["llama-2-7b"], "hidden_size": 64, "intermediate_size": 160,
          "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 300,
          "num_hidden_layers": 7}  # fmt: skip
    trainer = TrainConfig(lora_rank=lora_rank, remat=remat)
    extrapolated = saved(hf, batch=3, seq=32, trainer=trainer)
    direct = _residuals(model_config(hf)[0], trainer, 3, 32)
    for kind in ("scores", "other"):
        assert extrapolated[kind] > 0
    total = extrapolated["scores"] + extrapolated["other"] + extrapolated["step"]
    assert total == pytest.approx(sum(direct.values()), abs=1e-6)
    if remat:  # a block keeps its bf16 input [L, D] and nothing else
        assert extrapolated["other_block"] == 32 * 64 * 2 and extrapolated["scores_block"] == 0


def test_remat_and_flash_keep_less():
    hf = {**BASES["llama-2-7b"], "num_hidden_layers": 4}
    act = activations(hf, batch=2, seq=256)
    assert 0 < act["activations_remat_flash"] < act["activations_remat"] < act["activations"]
    assert act["activations_remat_flash"] < act["activations_flash"] < act["activations"]


def test_traced_activations_agree_with_xla_buffers():
    # One more row of 128 tokens at Llama-2-7B width, 2 layers: what the backward pass keeps
    # (traced) against what XLA's compiled gradient allocates for it (CPU buffer assignment).
    check = xla_check("llama-2-7b", 128)
    assert 0.75 < check["traced_per_row_bytes"] / check["xla_temp_per_row_bytes"] < 1.33
