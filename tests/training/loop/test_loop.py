"""The training loop's knobs: gradient accumulation, bf16 compute, fine-tuning from a saved
judge, learning-rate schedules, reference drop, resumable batches, the CLI options."""

import dataclasses
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from judging.checkpoint import load_checkpoint
from judging.demo_tasks import DEMO_TASKS, generate_demo_examples
from judging.task_format import Task, TaskType, write_jsonl
from judging.tokenizer import JudgeTokenizer
from training import __main__ as training_cli
from training import parallel
from training.config import PRESETS, TrainConfig, parse_set
from training.loop import train
from training.loop.batch import Batch, place_batch
from training.loop.data import BatchSource, encode_examples
from training.loop.loss import compute_dtype
from training.loop.optimizer import lr_schedule
from training.mixture import mixture_weights

TASKS = {t.name: t for t in DEMO_TASKS}
BASE = TrainConfig(
    steps=4,
    batch_size=8,
    learning_rate=3e-3,
    warmup_steps=1,
    log_every=1,
    max_len=128,
    model_overrides={"n_layers": 1, "d_model": 32, "d_ff": 64},
)


def _params(directory) -> list[np.ndarray]:
    model = load_checkpoint(directory).model
    return [np.asarray(x) for x in jax.tree.leaves(nnx.to_pure_dict(nnx.state(model)))]


@pytest.fixture(scope="module")
def base_run(tmp_path_factory):
    directory = tmp_path_factory.mktemp("base") / "model"
    examples = generate_demo_examples(40, seed=1)
    return examples, train(TASKS, examples, BASE, directory), directory


def test_gradient_accumulation_equals_the_big_batch(base_run, tmp_path):
    examples, big, big_dir = base_run
    accumulated = train(TASKS, examples, BASE.replace(grad_accum_steps=4), tmp_path / "acc")
    np.testing.assert_allclose(
        [v for _, v in accumulated.loss_history], [v for _, v in big.loss_history], rtol=1e-5
    )
    for a, b in zip(_params(big_dir), _params(tmp_path / "acc"), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def _next_token_loss(directory, examples) -> float:
    loaded = load_checkpoint(directory)
    items = encode_examples(TASKS, examples[:16], loaded.tokenizer, BASE.max_len)
    losses = []
    for item in items:
        tokens = jnp.asarray([item.prompt])
        logits = loaded.model(tokens)[0, :-1]
        losses.append(
            float(
                -jax.nn.log_softmax(logits)[jnp.arange(len(item.prompt) - 1), tokens[0, 1:]].mean()
            )
        )
    return float(np.mean(losses))


def test_lm_loss_teaches_next_token_prediction(base_run, tmp_path):
    examples = base_run[0]
    config = BASE.replace(steps=30, learning_rate=1e-2, log_every=10)
    train(TASKS, examples, config, tmp_path / "verdict")
    train(TASKS, examples, config.replace(lm_loss_weight=1.0, lm_loss_rows=4), tmp_path / "lm")
    # The auxiliary loss teaches the model to predict the prompts' tokens, which the
    # verdict-only loss never trains.
    verdict_only = _next_token_loss(tmp_path / "verdict", examples)
    assert _next_token_loss(tmp_path / "lm", examples) < verdict_only - 1.0
    with pytest.raises(ValueError, match="lm_loss_weight"):
        BASE.replace(lm_loss_weight=-1.0)


def test_bfloat16_compute_tracks_float32(base_run, tmp_path):
    examples, f32, _ = base_run
    assert compute_dtype(BASE) == jnp.float32  # "auto" on CPU
    bf16 = train(TASKS, examples, BASE.replace(dtype="bfloat16"), tmp_path / "bf16")
    loaded = load_checkpoint(tmp_path / "bf16")
    assert loaded.metadata["compute_dtype"] == "bfloat16"
    # Master weights stay float32; the losses follow the float32 run to bf16 precision.
    assert all(x.dtype == np.float32 for x in _params(tmp_path / "bf16"))
    f32_losses = np.asarray([v for _, v in f32.loss_history])
    bf16_losses = np.asarray([v for _, v in bf16.loss_history])
    np.testing.assert_allclose(bf16_losses, f32_losses, rtol=3e-2)
    assert not np.array_equal(bf16_losses, f32_losses)


def test_init_checkpoint_starts_from_the_saved_judge(base_run, tmp_path):
    examples, _, base_dir = base_run
    # Learning rate 0: AdamW leaves the weights exactly as loaded.
    config = BASE.replace(steps=2, learning_rate=0.0, dropout=0.05, seed=9)
    result = train(TASKS, examples[:20], config, tmp_path / "ft", init_checkpoint=base_dir)
    for a, b in zip(_params(base_dir), _params(tmp_path / "ft"), strict=True):
        np.testing.assert_array_equal(a, b)
    base, tuned = load_checkpoint(base_dir), load_checkpoint(tmp_path / "ft")
    assert tuned.tokenizer == base.tokenizer  # no new tokenizer trained
    assert tuned.config == dataclasses.replace(base.config, dropout=0.05)
    assert tuned.metadata["init_checkpoint"] == str(base_dir.absolute())
    assert result.steps == 2

    odd = Task(
        name="odd",
        type=TaskType.CLASSIFICATION,
        title="Odd",
        description="Pick one.",
        context_fields=("text",),
        output_fields=("label",),
        labels=("Zyzzogeton", "Quixotry"),
    )
    bad = [dataclasses.replace(examples[0], task="odd", context={"text": "x"}, label="Quixotry")]
    with pytest.raises(ValueError, match="not one token"):
        train({"odd": odd}, bad, config, tmp_path / "bad", init_checkpoint=base_dir)


def test_lr_schedules_warm_up_and_decay():
    config = TrainConfig(steps=100, learning_rate=1e-4, warmup_steps=10, end_lr_ratio=0.1)
    for name in ("cosine", "linear"):
        schedule = lr_schedule(config.replace(lr_schedule=name))
        assert float(schedule(0)) == 0.0
        assert float(schedule(10)) == pytest.approx(1e-4)
        assert float(schedule(100)) == pytest.approx(1e-5)
        assert float(schedule(5)) == pytest.approx(5e-5)
    constant = lr_schedule(config.replace(lr_schedule="constant"))
    assert float(constant(10)) == float(constant(99)) == pytest.approx(1e-4)
    flame = TrainConfig.preset("flame")
    assert (flame.learning_rate, flame.dropout, flame.per_task_cap) == (1e-4, 0.05, 2**16)
    with pytest.raises(ValueError, match="lr_schedule"):
        TrainConfig(lr_schedule="step")
    with pytest.raises(ValueError, match="grad_accum_steps"):
        TrainConfig(batch_size=8, grad_accum_steps=3)
    with pytest.raises(ValueError, match="dtype"):
        TrainConfig(dtype="float16")


def _tokenizer(examples) -> JudgeTokenizer:
    from judging.task_format import render_example
    from judging.tokenizer import format_constant_lines, train_tokenizer

    labels = sorted({label for task in TASKS.values() for label in task.labels})
    texts = [render_example(TASKS[e.task], e) for e in examples]
    return train_tokenizer(
        texts, 512, labels=labels, constant_lines=format_constant_lines(DEMO_TASKS)
    )


def test_reference_drop_and_resumable_batches():
    examples = [
        dataclasses.replace(e, reference=f"the answer is {i}")
        for i, e in enumerate(generate_demo_examples(20, seed=3))
    ]
    tokenizer = _tokenizer(examples)
    items = encode_examples(TASKS, examples, tokenizer, 256, reference_drop=True)
    assert all(len(i.noref_prompt) < len(i.prompt) for i in items)
    counts = {}
    for item in items:
        counts[item.task] = counts.get(item.task, 0) + 1
    weights = mixture_weights(counts)

    def source(p: float) -> BatchSource:
        config = BASE.replace(reference_drop=p, batch_size=16, steps=20)
        return BatchSource(items, weights, config, tokenizer.pad_id)

    def lengths(batch) -> list[int]:
        return (batch.last + 1).tolist()

    kept = [n for _ in range(4) for n in lengths(source(0.0).next_batch())]
    dropped_all = [n for _ in range(4) for n in lengths(source(1.0).next_batch())]
    assert sum(dropped_all) < sum(kept)
    half = source(0.5)
    draws = [half.ref_rng.random() < 0.5 for _ in range(200)]
    assert 0.35 < sum(draws) / 200 < 0.65

    # The batch stream resumes from a JSON round trip of its state.
    a, b = source(0.5), source(0.5)
    for _ in range(3):
        a.next_batch()
    b.set_state(json.loads(json.dumps(a.get_state())))
    for _ in range(3):
        pairs = zip(jax.tree.leaves(a.next_batch()), jax.tree.leaves(b.next_batch()), strict=True)
        for x, y in pairs:
            np.testing.assert_array_equal(x, y)


def test_batches_are_typed_and_placed_as_micro_batches():
    examples = generate_demo_examples(20, seed=4)
    tokenizer = _tokenizer(examples)
    items = encode_examples(TASKS, examples, tokenizer, 128)
    counts = {}
    for item in items:
        counts[item.task] = counts.get(item.task, 0) + 1
    config = BASE.replace(batch_size=8, grad_accum_steps=2)
    batch = BatchSource(items, mixture_weights(counts), config, tokenizer.pad_id).next_batch()
    assert isinstance(batch, Batch)
    rows, length = batch.tokens.shape
    assert rows == 8 and batch.mask.shape == (8, length)
    assert batch.last.shape == batch.targets.shape == (8,)
    np.testing.assert_array_equal(batch.mask.sum(axis=1), batch.last + 1)
    placed = place_batch(parallel.make_mesh(), config.grad_accum_steps, batch)
    assert isinstance(placed, Batch)
    assert placed.tokens.shape == (2, 4, length) and placed.targets.shape == (2, 4)
    np.testing.assert_array_equal(np.asarray(placed.targets).reshape(-1), batch.targets)


def test_cli_train_options(tmp_path, capsys):
    data = tmp_path / "snapshot.jsonl"
    write_jsonl(data, DEMO_TASKS, generate_demo_examples(10, seed=2))
    args = ["train", "--data", str(data), "--out", str(tmp_path / "m"), "--preset", "smoke"]
    assert training_cli.main([*args, "--set", "lr_schedule=sideways"]) == 2
    assert "lr_schedule" in capsys.readouterr().err
    state = tmp_path / "state"
    extra = ["--steps", "2", "--set", "grad_accum_steps=2", "--set", "checkpoint_every=1"]
    assert training_cli.main([*args, *extra, "--state-dir", str(state)]) == 0
    assert json.loads(capsys.readouterr().out)["steps"] == 2
    assert (state / "tokenizer.json").exists() and (state / "steps" / "1").is_dir()
    metadata = load_checkpoint(tmp_path / "m").metadata
    assert metadata["train_config"]["grad_accum_steps"] == 2


def test_one_set_parser_for_every_command(tmp_path, capsys):
    items = ["steps=3", "dtype=bfloat16", 'model_overrides={"n_layers": 2}', "fsdp=true"]
    expected = {"steps": 3, "dtype": "bfloat16", "model_overrides": {"n_layers": 2}, "fsdp": True}
    assert parse_set(items) == expected  # VALUE is JSON, else a string
    with pytest.raises(ValueError, match="'stepz' is not a TrainConfig field"):
        parse_set(["stepz=3"])
    data = tmp_path / "snapshot.jsonl"
    write_jsonl(data, DEMO_TASKS, generate_demo_examples(5, seed=2))
    out = str(tmp_path / "out")
    for argv in (
        ["train", "--data", str(data), "--out", out],
        ["recipe", "default", "--out", out],
        ["rm", "--base", out, "--data", str(data), "--out", out],
        ["tailpatch", "--base", out, "--data", str(data), "--out", out],
        ["self-taught", "--seed", out, "--data", str(data), "--out", out],
    ):
        assert training_cli.main([*argv, "--set", "stepz=3"]) == 2, argv
        assert "'stepz' is not a TrainConfig field" in capsys.readouterr().err, argv


def test_presets_are_typed_configs():
    assert set(TrainConfig.presets()) == set(PRESETS) >= {"demo", "smoke", "flame"}
    assert all(isinstance(config, TrainConfig) for config in PRESETS.values())
    demo = TrainConfig.preset("demo", steps=7)
    assert demo == PRESETS["demo"].replace(steps=7)
    assert demo.model_overrides is not PRESETS["demo"].model_overrides  # no shared dicts
    with pytest.raises(ValueError, match="unknown preset"):
        TrainConfig.preset("nope")
