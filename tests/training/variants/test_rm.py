"""FLAMe-RM: only pairwise tasks, equal weights, starts from the base checkpoint's weights."""

import json

import jax
import numpy as np
import pytest
from flax import nnx

from judging.checkpoint import load_checkpoint
from judging.model import Decoder
from judging.task_format import write_jsonl
from tests.training.variants.examples import (
    EASY,
    FLIPPED,
    TASKS,
    VERDICT,
    easy_examples,
    verdict_examples,
)
from training import __main__ as training_cli
from training.config import TrainConfig
from training.loop import train
from training.variants.rm import finetune_rm, rm_mixture


def _params(model) -> np.ndarray:
    leaves = jax.tree.leaves(nnx.to_pure_dict(nnx.state(model, nnx.Param)))
    return np.concatenate([np.asarray(leaf, dtype=np.float32).ravel() for leaf in leaves])


@pytest.fixture(scope="module")
def data():
    # EASY has 4x the examples of FLIPPED: equal weights must not follow the counts.
    examples = (
        easy_examples(EASY, 160, seed=1)
        + easy_examples(FLIPPED, 40, seed=2, flip=True)
        + verdict_examples(60, seed=3)
    )
    return TASKS, examples


@pytest.fixture(scope="module")
def base(tmp_path_factory, data):
    tasks, examples = data
    config = TrainConfig.preset("smoke", steps=3, batch_size=8)
    return train(tasks, examples, config, tmp_path_factory.mktemp("base") / "ckpt").checkpoint_dir


def test_rm_mixture_selects_pairwise_tasks_with_equal_weights(data):
    tasks, examples = data
    rm_tasks, rm_examples, weights = rm_mixture(tasks, examples)
    assert set(rm_tasks) == {EASY.name, FLIPPED.name}
    assert {e.task for e in rm_examples} == {EASY.name, FLIPPED.name}
    assert weights == {EASY.name: 0.5, FLIPPED.name: 0.5}
    with pytest.raises(ValueError, match="not pairwise"):
        rm_mixture(tasks, examples, [VERDICT.name])
    with pytest.raises(ValueError, match="unknown task"):
        rm_mixture(tasks, examples, ["nope"])
    with pytest.raises(ValueError, match="no labelled examples of a pairwise task"):
        rm_mixture(tasks, verdict_examples(5, seed=0))


def test_finetune_rm_starts_from_the_base_weights(tmp_path, data, base):
    tasks, examples = data
    config = TrainConfig.preset("smoke", steps=2, batch_size=8, learning_rate=1e-4)
    progress = []
    result = finetune_rm(
        base, tasks, examples, config, tmp_path / "rm", on_progress=lambda *a: progress.append(a)
    )
    assert result.steps == 2 and progress and progress[-1][0] == 2
    base_model = load_checkpoint(base)
    rm_model = load_checkpoint(result.checkpoint_dir)
    metadata = rm_model.metadata
    assert metadata["init_checkpoint"] == str(base.absolute())
    assert metadata["variant"]["name"] == "flame-rm"
    assert metadata["variant"]["tasks"] == [EASY.name, FLIPPED.name]
    # The mixture train() used: equal weights although EASY has 4x the examples.
    assert metadata["mixture_weights"] == {EASY.name: 0.5, FLIPPED.name: 0.5}
    assert metadata["examples_per_task"] == {EASY.name: 160, FLIPPED.name: 40}
    assert rm_model.config == base_model.config
    assert rm_model.tokenizer == base_model.tokenizer
    # Starts from the base: after 2 small steps the weights are close to the base's, far from
    # a fresh initialisation's, and not identical (it did train).
    base_params, rm_params = _params(base_model.model), _params(rm_model.model)
    fresh = _params(Decoder(base_model.config, rngs=nnx.Rngs(123)))
    moved = np.linalg.norm(rm_params - base_params)
    assert 0 < moved < 0.05 * np.linalg.norm(fresh - base_params)


def test_finetune_rm_refuses_labels_the_base_cannot_score(tmp_path, base):
    from judging.task_format import RESPONSE_A, RESPONSE_B, Example, Task, TaskType

    odd = Task(
        name="odd",
        type=TaskType.PAIRWISE,
        title="t",
        description="d",
        context_fields=(RESPONSE_A, RESPONSE_B),
        output_fields=("choice",),
        labels=("A", "B", "zzqx"),
    )
    example = Example("odd", {RESPONSE_A: "x", RESPONSE_B: "y"}, "A")
    with pytest.raises(ValueError, match="'zzqx' is not one token"):
        finetune_rm(base, {"odd": odd}, [example], TrainConfig.preset("smoke"), tmp_path / "x")
    with pytest.raises(FileNotFoundError, match="not a judge checkpoint"):
        finetune_rm(tmp_path, {"odd": odd}, [example], TrainConfig.preset("smoke"), tmp_path / "y")


def test_rm_cli(tmp_path, capsys, data, base):
    tasks, examples = data
    path = tmp_path / "data.jsonl"
    write_jsonl(path, tasks.values(), examples)
    out = tmp_path / "rm-cli"
    code = training_cli.main(
        [
            "rm",
            "--base",
            str(base),
            "--data",
            str(path),
            "--out",
            str(out),
            "--preset",
            "smoke",
            "--steps",
            "2",
            "--set",
            "batch_size=8",
        ]
    )
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["steps"] == 2 and summary["tasks"] == [EASY.name, FLIPPED.name]
    assert summary["mixture_weights"] == {EASY.name: 0.5, FLIPPED.name: 0.5}
    assert load_checkpoint(out).metadata["variant"]["base_checkpoint"] == str(base.absolute())
    missing = training_cli.main(
        ["rm", "--base", str(tmp_path / "nope"), "--data", str(path), "--out", str(out)]
    )
    assert missing == 2
    assert "not a judge checkpoint" in capsys.readouterr().err
