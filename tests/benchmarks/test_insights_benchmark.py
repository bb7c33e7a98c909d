from tests.benchmarks.quick import run_quick


def test_insights_benchmark_quick_run_reports_every_view():
    report = run_quick("insights", database=True)
    assert report["labels"] == 20_000
    assert set(report["views"]) >= {"dashboard", "disagreements", "item", "versions", "raters"}
    for timing in report["views"].values():
        assert 0 < timing["p50_ms"] <= timing["p99_ms"]
