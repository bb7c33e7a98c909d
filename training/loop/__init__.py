"""The FLAMe training loop: `train()` turns tasks and labelled examples into a saved judge.

    from training.loop import train, TrainResult

Modules: `batch` (the typed Batch and its placement on the device mesh), `data` (snapshots,
tokenizer, encoding, the mixture's batches), `loss` (verdict loss, auxiliary next-token loss),
`optimizer` (learning-rate schedule and AdamW), `step` (train state and the jitted step),
`state` (the resumable orbax state store) and `loop` (train() itself).
"""

from training.loop.loop import ProgressFn, TrainingCancelled, TrainResult, train

__all__ = ["ProgressFn", "TrainResult", "TrainingCancelled", "train"]
