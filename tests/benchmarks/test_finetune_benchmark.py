"""`python -m benchmarks.finetune --quick` runs and reports full and LoRA fine-tuning of the same
model side by side: tokens/s, FLOPs from the shapes, MFU and the LoRA / full ratio.

Timings are not asserted (a shared 2-core machine); the numbers are for the report."""

from tests.benchmarks.quick import run_quick


def test_finetune_benchmark_quick_reports_json():
    report = run_quick("finetune")
    full, lora = report["full"], report["lora_run"]
    for result in (full, lora):
        assert result["tokens_per_second"] > 0
        assert 0 < result["mfu"] < 1.5  # against a measured (noisy) peak
    # LoRA trains a small fraction of the parameters and skips the frozen weights' gradients.
    assert lora["trained_params"] < full["trained_params"] / 10
    assert lora["step_gflop"] < full["step_gflop"]
    assert report["lora_over_full_tokens_per_second"] > 0
