"""`python -m benchmarks.attention --quick`: the model's attention against the materialised path
it replaced, side by side in one run; the outputs agree (timings are printed, never asserted)."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_attention_benchmark_reports_both_paths_and_they_agree():
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.attention", "--quick"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    ).stdout
    report = json.loads(out)
    print(json.dumps(report, indent=2), file=sys.stderr)
    rows = report["rows"]
    assert {(r["length"], r["window"]) for r in rows} == {(256, None), (1024, None), (1024, 512)}
    for row in rows:
        assert row["max_abs_diff"] < 1e-5, row
        assert row["materialised_seconds"] > 0 and row["attend_seconds"] > 0
