"""`python -m benchmarks.upload --quick` reads, validates and imports 2,000 CSV rows in its own
database and reports each stage."""

from tests.benchmarks.quick import run_quick


def test_upload_benchmark_quick_run_reports_every_stage():
    report = run_quick("upload", database=True, timeout=300)
    assert report["rows"] == 2_000
    assert set(report["stages"]) == {"read", "validate", "import"}
    for stage in report["stages"].values():
        assert stage["seconds"] > 0 and stage["rows_per_second"] > 0
