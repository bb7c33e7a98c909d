"""benchmarks.imports runs and prints its JSON report."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_import_benchmark_runs_and_reports_json(tmp_path):
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")},
        "DATABASE_URL": f"sqlite:///{tmp_path / 'ember.sqlite3'}",
        "DJANGO_SETTINGS_MODULE": "webapp.config.settings.local",
        "EMBER_VAR_DIR": str(tmp_path),
    }
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.imports", "--quick"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    ).stdout
    report = json.loads(out)
    assert report["database"] == "sqlite"
    # Speed is the benchmark's to report, not a test's to time on a shared machine.
    assert report["examples_per_second"] > 0 and report["ratio_vs_reference"] > 0
