"""`python -m benchmarks.generation --quick`: Ember's cached greedy decode and transformers'
`generate` on the same random Llama weights produce the same tokens (timings are printed, never
asserted). Skips where no Python with torch + transformers is found."""

import pytest

from benchmarks.generation import reference_python
from tests.benchmarks.quick import run_quick


def test_generation_benchmark_tokens_equal_transformers():
    if reference_python() is None:
        pytest.skip("torch/transformers not importable, no EMBER_TORCH_PYTHON, no .venv-torch")
    report = run_quick("generation")
    assert report["tokens_equal"] and report["matching_fraction"] == 1.0
    assert report["batch"] == 4 and report["new_tokens"] == 8
    assert len(set(report["prompt_lengths"])) == 4  # left padding exercised on both sides
    assert report["ember"]["tokens_per_s"] > 0 and report["transformers"]["tokens_per_s"] > 0
