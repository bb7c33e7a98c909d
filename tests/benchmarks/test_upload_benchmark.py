"""`python -m benchmarks.upload --quick` reads, validates and imports 2,000 CSV rows in its own
database and reports each stage."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_upload_benchmark_quick_run_reports_every_stage():
    env = {**os.environ}
    env.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/ember")
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.upload", "--quick"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    ).stdout
    report = json.loads(out)
    assert report["rows"] == 2_000
    assert set(report["stages"]) == {"read", "validate", "import"}
    for stage in report["stages"].values():
        assert stage["seconds"] > 0 and stage["rows_per_second"] > 0
