"""The training variants: "variant" is this project's word for a training algorithm.

FLAMe (plain multitask training: training/loop/), FLAMe-RM (`rm`), FLAMe-Opt-RM (`tailpatch`,
`tailpatch_plan`, then training/loop/ with the weights) and Self-Taught (`self_taught`,
`self_taught_pairs`). `common` holds their shared pieces, `cli` their commands under
`python -m training`. Nothing is imported here, so `import training.variants.rm` stays light.
"""
