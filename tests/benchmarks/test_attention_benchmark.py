"""`python -m benchmarks.attention --quick`: the model's attention against the materialised path
it replaced, side by side in one run; the outputs agree (timings are printed, never asserted)."""

from tests.benchmarks.quick import run_quick


def test_attention_benchmark_reports_both_paths_and_they_agree():
    report = run_quick("attention")
    rows = report["rows"]
    assert {(r["length"], r["window"]) for r in rows} == {(256, None), (1024, None), (1024, 512)}
    for row in rows:
        assert row["max_abs_diff"] < 1e-5, row
        assert row["materialised_seconds"] > 0 and row["attend_seconds"] > 0
