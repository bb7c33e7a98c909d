"""Checkpoints: orbax for the params, JSON for config / tokenizer / metadata, written atomically.

Layout of a checkpoint directory:

    params/          orbax StandardCheckpointer tree of the model's nnx.Param state
    config.json      ModelConfig.to_dict()
    tokenizer.json   the Hugging Face tokenizer
    metadata.json    free-form JSON (training config, steps, final loss, format_version, ...)

Everything is written into a hidden temporary sibling directory and renamed into place at the
end, so a crash never leaves a half-written checkpoint at `directory`.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import uuid
from pathlib import Path
from typing import Any

import jax
import orbax.checkpoint as ocp
from flax import nnx

from judging.model import Decoder, ModelConfig
from judging.tokenizer import JudgeTokenizer

PARAMS_DIR = "params"
CONFIG_FILE = "config.json"
TOKENIZER_FILE = "tokenizer.json"
METADATA_FILE = "metadata.json"


@dataclasses.dataclass
class LoadedModel:
    model: Decoder
    config: ModelConfig
    tokenizer: JudgeTokenizer
    metadata: dict[str, Any]


def _checkpointer() -> ocp.StandardCheckpointer:
    """A checkpointer local to this process: in a multi-process (jax.distributed) run, process 0
    alone writes the final judge, and any process may load one, without cross-process barriers.
    """
    if jax.process_count() == 1:
        return ocp.StandardCheckpointer()
    me = jax.process_index()
    options = ocp.options.MultiprocessingOptions(primary_host=me, active_processes={me})
    return ocp.StandardCheckpointer(multiprocessing_options=options)


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n", "utf-8")


def save_checkpoint(
    directory: str | Path,
    model: Decoder,
    config: ModelConfig,
    tokenizer: JudgeTokenizer,
    metadata: dict[str, Any],
) -> None:
    directory = Path(directory).absolute()
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = directory.parent / f".{directory.name}.tmp-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        params = nnx.to_pure_dict(nnx.state(model, nnx.Param))
        checkpointer = _checkpointer()
        checkpointer.save(tmp / PARAMS_DIR, params)
        checkpointer.wait_until_finished()
        checkpointer.close()
        _write_json(tmp / CONFIG_FILE, config.to_dict())
        tokenizer.save(tmp / TOKENIZER_FILE)
        _write_json(tmp / METADATA_FILE, metadata)
        if directory.exists():
            old = directory.parent / f".{directory.name}.old-{uuid.uuid4().hex[:8]}"
            os.replace(directory, old)
            os.replace(tmp, directory)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, directory)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def is_checkpoint(directory: str | Path) -> bool:
    directory = Path(directory)
    return all((directory / name).exists() for name in (PARAMS_DIR, CONFIG_FILE, TOKENIZER_FILE))


def load_checkpoint(directory: str | Path) -> LoadedModel:
    directory = Path(directory).absolute()
    if not is_checkpoint(directory):
        raise FileNotFoundError(
            f"{directory} is not a judge checkpoint "
            f"(needs {PARAMS_DIR}/, {CONFIG_FILE}, {TOKENIZER_FILE})"
        )
    config = ModelConfig.from_dict(json.loads((directory / CONFIG_FILE).read_text("utf-8")))
    tokenizer = JudgeTokenizer.load(directory / TOKENIZER_FILE)
    metadata_path = directory / METADATA_FILE
    metadata = json.loads(metadata_path.read_text("utf-8")) if metadata_path.exists() else {}
    abstract = nnx.eval_shape(lambda: Decoder(config, rngs=nnx.Rngs(0)))
    graphdef, abstract_state = nnx.split(abstract)
    target = jax.tree.map(
        lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype), nnx.to_pure_dict(abstract_state)
    )
    checkpointer = _checkpointer()
    restored = checkpointer.restore(directory / PARAMS_DIR, target)
    checkpointer.close()
    nnx.replace_by_pure_dict(abstract_state, restored)
    model = nnx.merge(graphdef, abstract_state)
    return LoadedModel(model=model, config=config, tokenizer=tokenizer, metadata=metadata)
