"""The end-to-end autorater recipes: `python -m training recipe default|teacher --out DIR`.

"Recipe" is this project's word for the public-data pipeline (a "variant" is a training
algorithm, training/variants/; a "preset" or "profile" names a configuration).

default: every permissively licensed human-labelled set in shared/data, converted, split by
  prompt/document (train / dev / test: no prompt in two splits), plus the known-answer demo
  tasks (judging/demo_tasks.py) and Self-Taught synthetic pairs
  (training/variants/self_taught_pairs.py) made from the training split's pairwise items only,
  mixed FLAMe-style (examples-proportional with a per-task cap, pairwise tasks up-weighted),
  trained, and evaluated on the held-out test split against the length baselines and a TF-IDF
  + logistic-regression baseline trained on the same training split.
teacher: the same plus the LLM-judge (GPT-4 family) labels of alpaca-eval-judgments (JudgeLM-
  style distillation, CC BY-NC 4.0): randomly swapped (upstream always puts the reference
  answer first), split by instruction; its held-out teacher items are reported apart, and the
  human held-out numbers are on the same test split as the default recipe's. With the profile's
  `teacher_explanations`, the records whose judge gave a rationale become task
  alpaca-eval-judgments/preference-llm-judge-cot, the rationale (its model letters rewritten to
  A / B, `rationales`) trained after the verdict with evaluation_block.

Modules: `profiles` (Profile, PROFILES), `data` (loading, splitting, fitting texts to the
window, Self-Taught examples), `teacher` (the LLM-judge examples), `rationales` (the teacher's
rationales rewritten to positions A / B), `evaluation` (judge and baselines on the held-out
items), `run` (mixture, build_data, run_recipe), `model_card`, `cli`.

Outputs under OUT: model/ (the judge checkpoint), report/ (report.json with every number and
pictures), recipe.json (data, licences, splits, config, timings, profile, commit),
model_card.md.
"""
