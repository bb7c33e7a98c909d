"""`python -m benchmarks.annotation --quick` serves the app under gunicorn, has raters claim and
submit over HTTP, and reports latency, throughput and that nobody got an item twice."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_annotation_benchmark_quick_run_reports_latency_and_correct_claims():
    env = {**os.environ}
    env.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/ember")
    run = subprocess.run(
        [sys.executable, "-m", "benchmarks.annotation", "--quick", "--port", str(_free_port())],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-4000:]
    report = json.loads(run.stdout)
    assert report["items"] == 10_000 and report["raters"] == 20
    for phase in (report, report["closed_loop"]):
        assert phase["claims"] > 0 and phase["submits"] > 0 and phase["errors"] == 0
        assert 0 < phase["claim_p50_ms"] <= phase["claim_p99_ms"]
        assert 0 < phase["submit_p50_ms"] <= phase["submit_p99_ms"]
        assert phase["requests_per_second"] > 0 and phase["server_cpu_ms_per_request"] > 0
    checks = report["checks"]
    assert checks["labels_stored"] == checks["submits_answered"] > 0
    assert checks["items_with_more_than_k_labels"] == 0
    assert checks["items_with_a_wrong_label_count"] == 0
