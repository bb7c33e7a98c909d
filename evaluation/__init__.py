"""Evaluating judges: agreement metrics with bootstrap intervals, rule and lexical baselines,
CoBBLEr bias probes, best-of-N tournaments and reports.

Imports numpy, scipy, scikit-learn and matplotlib only (never JAX or Flax), so the web process
reads these without loading the model code; a judge is anything with a `judge()` method.
"""
