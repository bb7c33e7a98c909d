"""Run a benchmark's quick mode in a fresh process and read the JSON it prints."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/ember"


def run_quick(module: str, *args: str, database: bool = False, timeout: int = 600) -> dict:
    """`python -m benchmarks.<module> --quick *args`; `database`: it needs PostgreSQL (the
    test run's DATABASE_URL, else the local default), otherwise it runs without DATABASE_URL and
    REDIS_URL. The report is echoed to stderr for the log."""
    if database:
        env = {"DATABASE_URL": DEFAULT_DATABASE_URL, **os.environ}
    else:
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    out = subprocess.run(
        [sys.executable, "-m", f"benchmarks.{module}", "--quick", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=True,
    ).stdout
    report = json.loads(out)
    print(json.dumps(report, indent=2), file=sys.stderr)
    return report
