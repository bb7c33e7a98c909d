"""`python -m benchmarks.generation --quick`: Ember's cached greedy decode and transformers'
`generate` on the same random Llama weights produce the same tokens (timings are printed, never
asserted). Skips where no Python with torch + transformers is found."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.generation import reference_python

ROOT = Path(__file__).resolve().parents[2]


def test_generation_benchmark_tokens_equal_transformers():
    if reference_python() is None:
        pytest.skip("torch/transformers not importable, no EMBER_TORCH_PYTHON, no .venv-torch")
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.generation", "--quick"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    ).stdout
    report = json.loads(out)
    print(json.dumps(report, indent=2), file=sys.stderr)
    assert report["tokens_equal"] and report["matching_fraction"] == 1.0
    assert report["batch"] == 4 and report["new_tokens"] == 8
    assert len(set(report["prompt_lengths"])) == 4  # left padding exercised on both sides
    assert report["ember"]["tokens_per_s"] > 0 and report["transformers"]["tokens_per_s"] > 0
