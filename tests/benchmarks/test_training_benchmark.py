"""`python -m benchmarks.training --quick` runs and reports tokens/s, MFU and the PyTorch ratio.

Timings are not asserted (a shared 2-core machine); the numbers are for the report."""

import os

from tests.benchmarks.quick import run_quick


def test_training_benchmark_quick_reports_json():
    report = run_quick("training")
    assert set(report["sizes"]) == {"tiny", "small"}
    assert report["headline_size"] == "small"
    for result in report["sizes"].values():
        assert result["tokens_per_second"] > 0
        assert 0 < result["mfu"] < 1.5  # against a measured (noisy) peak
        assert all(v == v for v in result["loss_first_last"])  # finite, not NaN
    for key in ("tokens_per_second", "mfu", "ratio_vs_pytorch"):
        assert key in report
    if os.environ.get("EMBER_TORCH_PYTHON"):
        for result in report["sizes"].values():
            assert result["ratio_vs_pytorch"] > 0
            assert result["pytorch_tokens_per_second"] > 0
