"""Checkpoints: orbax for the params, JSON for config / tokenizer / metadata, written atomically.

Layout of a checkpoint directory:

    params/          orbax StandardCheckpointer tree of the model's nnx.Param state
    config.json      ModelConfig.to_dict()
    tokenizer.json   the Hugging Face tokenizer
    metadata.json    free-form JSON (training config, steps, final loss, format_version, ...)
    special_tokens.json  only for a pretrained (Hugging Face) tokenizer: its bos/eos/pad ids,
                     which it does not spell <bos>/<eos>/<pad> as Ember's own tokenizers do

`load_checkpoint` also takes an adapter-only (LoRA) checkpoint (judging/adapter.py) and
returns its base with the adapters merged; `load_model_dir` takes any of the three layouts
(Ember, adapter, Hugging Face) and names them all when a directory is none of them.

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

from judging import adapter
from judging.model import Decoder, ModelConfig
from judging.tokenizer import JudgeTokenizer

PARAMS_DIR = "params"
CONFIG_FILE = "config.json"
TOKENIZER_FILE = "tokenizer.json"
METADATA_FILE = "metadata.json"
SPECIAL_TOKENS_FILE = "special_tokens.json"


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


def write_tokenizer(path: Path, tokenizer: JudgeTokenizer) -> None:
    """tokenizer.json at `path`, and beside it special_tokens.json for a pretrained tokenizer."""
    tokenizer.save(path)
    if type(tokenizer) is not JudgeTokenizer:
        ids = {"bos_id": tokenizer.bos_id, "eos_id": tokenizer.eos_id, "pad_id": tokenizer.pad_id}
        _write_json(path.with_name(SPECIAL_TOKENS_FILE), ids)


def read_tokenizer(path: Path) -> JudgeTokenizer:
    """The tokenizer `write_tokenizer` wrote at `path`."""
    special = path.with_name(SPECIAL_TOKENS_FILE)
    if not special.exists():
        return JudgeTokenizer.load(path)
    from tokenizers import Tokenizer

    from judging.hf import HFJudgeTokenizer  # judging.hf imports this module

    ids = json.loads(special.read_text("utf-8"))
    return HFJudgeTokenizer(
        Tokenizer.from_file(str(path)),
        bos_id=ids.get("bos_id"),
        eos_id=ids.get("eos_id"),
        pad_id=ids.get("pad_id"),
    )


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
        write_tokenizer(tmp / TOKENIZER_FILE, tokenizer)
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


def load_model_dir(directory: str | Path) -> LoadedModel:
    """An Ember checkpoint, an adapter checkpoint (merged onto its base) or a local Hugging Face
    checkpoint directory; ValueError naming the three layouts when it is none of them."""
    from judging import hf  # judging.hf imports this module

    directory = Path(directory).absolute()
    if is_checkpoint(directory) or adapter.is_adapter_checkpoint(directory):
        return load_checkpoint(directory)
    if hf.is_hf_checkpoint(directory):
        return hf.from_pretrained(directory)
    raise ValueError(
        f"{directory} is not a model checkpoint: an Ember checkpoint has {PARAMS_DIR}/, "
        f"{CONFIG_FILE} and {TOKENIZER_FILE}; an adapter checkpoint {adapter.ADAPTER_FILE} and "
        f"{adapter.ADAPTER_CONFIG}; a Hugging Face one a {CONFIG_FILE} with a model_type and "
        "*.safetensors weights"
    )


def _load_adapter_checkpoint(directory: Path) -> LoadedModel:
    adapters, config, metadata = adapter.read_adapter_checkpoint(directory)
    base_dir = Path(config["base"])
    if adapter.is_adapter_checkpoint(base_dir):
        raise ValueError(f"{directory}: its base {base_dir} is itself an adapter checkpoint")
    found = adapter.weights_sha256(base_dir)
    if found != config["base_sha256"]:
        raise ValueError(
            f"{directory}: the base {base_dir} has weights sha256 {found}, the adapters were "
            f"trained on {config['base_sha256']}"
        )
    base = load_model_dir(base_dir)
    model = adapter.merge_adapters(base.model, adapters, float(config["scale"]))
    metadata = {**metadata, "adapter": config}
    return LoadedModel(model=model, config=base.config, tokenizer=base.tokenizer, metadata=metadata)


def load_checkpoint(directory: str | Path) -> LoadedModel:
    directory = Path(directory).absolute()
    if adapter.is_adapter_checkpoint(directory):
        return _load_adapter_checkpoint(directory)
    if not is_checkpoint(directory):
        raise FileNotFoundError(
            f"{directory} is not a judge checkpoint "
            f"(needs {PARAMS_DIR}/, {CONFIG_FILE}, {TOKENIZER_FILE})"
        )
    config = ModelConfig.from_dict(json.loads((directory / CONFIG_FILE).read_text("utf-8")))
    tokenizer = read_tokenizer(directory / TOKENIZER_FILE)
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
