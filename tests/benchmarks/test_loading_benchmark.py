"""`python -m benchmarks.loading --quick`: the streamed loader's peak host memory (each loader in
a fresh process) stays below the checkpoint's float32 size, at the parameters plus about one
tensor; the eager loader's does not."""

from tests.benchmarks.quick import run_quick


def test_streamed_peak_host_memory_below_fp32_size():
    report = run_quick("loading", "--loaders", "streamed_bf16", "streamed_bf16_fsdp4", "eager_fp32")
    sizes, loaders = report["checkpoint"], report["loaders"]
    assert sizes["shards"] == 4 and sizes["fp32_bytes"] == 2 * sizes["bf16_bytes"]
    streamed, eager = loaders["streamed_bf16"], loaders["eager_fp32"]
    assert streamed["param_sum"] == eager["param_sum"]  # the same weights loaded
    assert streamed["param_bytes"] == sizes["bf16_bytes"]
    # On CPU the loaded bf16 parameters are host memory too, so the growth is at least them.
    assert sizes["bf16_bytes"] <= streamed["peak_rss_growth_bytes"] < sizes["fp32_bytes"]
    # ... and about one tensor more: its memory-mapped pages, the block read and its copy.
    largest = sizes["largest_tensor_bf16_bytes"]
    assert streamed["peak_rss_growth_bytes"] < sizes["bf16_bytes"] + 3 * largest
    assert streamed["below_fp32_size"]
    assert eager["peak_rss_growth_bytes"] > sizes["fp32_bytes"]
    # Over 4 host devices with FSDP: sharded, the same numbers, no more memory.
    fsdp = loaders["streamed_bf16_fsdp4"]
    assert fsdp["devices"] == 4 and fsdp["sharded_arrays"] > 0
    assert fsdp["param_sum"] == eager["param_sum"]
    assert fsdp["peak_rss_growth_bytes"] < sizes["bf16_bytes"] + 3 * largest
