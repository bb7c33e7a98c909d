"""Resumable training state: with a `state_dir`, train() saves the model, optimizer state, step,
mixture position and augmentation RNG states with orbax every `config.checkpoint_every` steps
(atomic, the newest `config.keep_checkpoints` kept) along with the tokenizer."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import jax
import orbax.checkpoint as ocp
from flax import nnx

from judging.checkpoint import read_tokenizer, write_tokenizer
from judging.tokenizer import JudgeTokenizer

STATE_STEPS_DIR = "steps"
STATE_TOKENIZER = "tokenizer.json"


class StateStore:
    """Resumable training state in `directory`: orbax steps (model + optimizer state as one
    pytree, the rest as JSON) under steps/, and the run's tokenizer."""

    def __init__(self, directory: str | Path, keep: int) -> None:
        self.directory = Path(directory).absolute()
        self.directory.mkdir(parents=True, exist_ok=True)
        self.manager = ocp.CheckpointManager(
            self.directory / STATE_STEPS_DIR,
            options=ocp.CheckpointManagerOptions(
                max_to_keep=keep, enable_async_checkpointing=False, create=True
            ),
        )

    def latest_step(self) -> int | None:
        return self.manager.latest_step()

    def load_tokenizer(self) -> JudgeTokenizer:
        return read_tokenizer(self.directory / STATE_TOKENIZER)

    def save_tokenizer(self, tokenizer: JudgeTokenizer) -> None:
        if jax.process_index() != 0:
            return
        path = self.directory / STATE_TOKENIZER
        tmp = self.directory / f".tokenizer.tmp-{os.getpid()}"
        tmp.mkdir(exist_ok=True)
        write_tokenizer(tmp / STATE_TOKENIZER, tokenizer)  # + special_tokens.json if pretrained
        for written in sorted(tmp.iterdir(), key=lambda p: p.name == STATE_TOKENIZER):
            os.replace(written, path.with_name(written.name))
        tmp.rmdir()

    def save(self, step: int, state: nnx.State, meta: dict[str, Any]) -> None:
        args = ocp.args.Composite(
            state=ocp.args.StandardSave(nnx.to_pure_dict(state)), meta=ocp.args.JsonSave(meta)
        )
        self.manager.save(step, args=args, force=True)
        self.manager.wait_until_finished()

    def read_meta(self, step: int) -> dict[str, Any]:
        """The JSON part of step `step` (config, data fingerprint, batch position, losses)."""
        restored = self.manager.restore(step, args=ocp.args.Composite(meta=ocp.args.JsonRestore()))
        return restored["meta"]

    def restore(self, step: int, state: nnx.State) -> dict[str, Any]:
        """Load step `step` into `state` (in place, keeping its shardings); return its JSON."""
        pure = nnx.to_pure_dict(state)
        target = jax.tree.map(
            lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=x.sharding), pure
        )
        restored = self.manager.restore(
            step,
            args=ocp.args.Composite(
                state=ocp.args.StandardRestore(target), meta=ocp.args.JsonRestore()
            ),
        )
        nnx.replace_by_pure_dict(state, restored["state"])
        return restored["meta"]

    def close(self) -> None:
        self.manager.close()
