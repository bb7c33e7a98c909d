import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_insights_benchmark_quick_run_reports_every_view():
    env = {**os.environ}
    env.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/ember")
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.insights", "--quick"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    ).stdout
    report = json.loads(out)
    assert report["labels"] == 20_000
    assert set(report["views"]) >= {"dashboard", "disagreements", "item", "versions", "raters"}
    for timing in report["views"].values():
        assert 0 < timing["p50_ms"] <= timing["p99_ms"]
