"""Training from a pretrained checkpoint (`train --init DIR`): full and LoRA fine-tuning from a
tiny random Hugging Face checkpoint of every family judging/hf.py loads, adapters-only updates,
adapter-only checkpoints that load back onto their base, and the refusals."""

import json
import shutil

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from safetensors.numpy import load_file, save_file

from judging.adapter import ADAPTER_FILE, is_adapter_checkpoint
from judging.checkpoint import load_checkpoint
from judging.demo_tasks import DEMO_TASKS, generate_demo_examples
from judging.hf import HFJudgeTokenizer, from_pretrained
from judging.task_format import Example, Task, TaskType, render_example, write_jsonl
from tests.training.pretrained.hf_dirs import FAMILIES, write_random_hf
from training import __main__ as training_cli
from training import lora, parallel
from training.config import TrainConfig
from training.loop import TrainingCancelled, train
from training.loop.batch import place_batch
from training.loop.data import BatchSource, encode_examples
from training.loop.step import init_train_state, make_train_step

TASKS = {t.name: t for t in DEMO_TASKS}
EXAMPLES = generate_demo_examples(12, seed=5)
TEXTS = [render_example(TASKS[e.task], e) for e in generate_demo_examples(40, seed=1)]
STEPS = TrainConfig(
    steps=3, batch_size=4, learning_rate=1e-2, warmup_steps=1, log_every=1, max_len=256
)


@pytest.fixture(scope="module")
def hf_dirs(tmp_path_factory):
    root = tmp_path_factory.mktemp("hf")
    return {family: write_random_hf(root / family, family, TEXTS) for family in FAMILIES}


def _flat(model) -> dict[str, np.ndarray]:
    pure = nnx.to_pure_dict(nnx.state(model, nnx.Param))
    leaves = jax.tree_util.tree_flatten_with_path(pure)[0]
    return {jax.tree_util.keystr(p): np.asarray(v, np.float32) for p, v in leaves}


@pytest.mark.parametrize("mode", ["full", "lora"])
@pytest.mark.parametrize("family", list(FAMILIES))
def test_a_few_steps_from_each_family(hf_dirs, tmp_path, family, mode):
    base_dir = hf_dirs[family]
    config = STEPS.replace(lora_rank=4 if mode == "lora" else 0)
    result = train(TASKS, EXAMPLES, config, tmp_path / "out", init_checkpoint=base_dir)
    assert all(np.isfinite(loss) for _, loss in result.loss_history)
    tuned, base = load_checkpoint(result.checkpoint_dir), from_pretrained(base_dir)
    # The checkpoint's own tokenizer and special tokens, not a new one.
    assert isinstance(tuned.tokenizer, HFJudgeTokenizer)
    assert (tuned.tokenizer.bos_id, tuned.tokenizer.eos_id) == (1, 2)
    assert tuned.config == base.config
    before, after = _flat(base.model), _flat(tuned.model)
    changed = [k for k in before if not np.array_equal(before[k], after[k])]
    if mode == "full":
        assert not is_adapter_checkpoint(result.checkpoint_dir)
        assert "['embed']['embedding']" in changed
    else:
        assert is_adapter_checkpoint(result.checkpoint_dir)
        # Merged: only the adapted projections' kernels moved.
        assert changed and all(k.split("]")[-3].strip("['") in "qkvo" for k in changed), changed
        adapter_bytes = (result.checkpoint_dir / ADAPTER_FILE).stat().st_size
        base_bytes = (base_dir / "model.safetensors").stat().st_size
        assert adapter_bytes < base_bytes / 4
        assert tuned.metadata["trainable_params"] < tuned.metadata["n_params"] / 4


def _train_state(base_dir, config):
    base = from_pretrained(base_dir)
    tokenizer = base.tokenizer
    items = encode_examples(TASKS, EXAMPLES, tokenizer, 256)
    batches = BatchSource(items, {t: 1.0 for t in TASKS}, config, tokenizer.pad_id)
    mesh = parallel.make_mesh()
    graphdef, state = init_train_state(base.config, config, mesh, nnx.state(base.model, nnx.Param))
    step, state = make_train_step(graphdef, state, config, mesh)
    return graphdef, state, step, batches, mesh


def test_lora_updates_the_adapters_only(hf_dirs):
    config = STEPS.replace(lora_rank=4, lora_targets=["q", "v", "gate", "down"])
    graphdef, state, step, batches, mesh = _train_state(hf_dirs["llama"], config)
    model, optimizer = nnx.merge(graphdef, state)
    base_before = jax.tree.map(np.asarray, nnx.state(model, lora.BASE))
    adapters_before = lora.adapter_tensors(model)
    # The frozen base is bfloat16; adapters float32; AdamW moments exist for the adapters only.
    assert {x.dtype for x in jax.tree.leaves(base_before)} == {np.dtype(jnp.bfloat16)}
    moments = [x for x in jax.tree.leaves(nnx.state(optimizer)) if np.ndim(x) > 0]
    assert sorted(x.size for x in moments) == sorted(2 * [a.size for a in adapters_before.values()])
    for i in range(3):
        state, loss = step(state, place_batch(mesh, 1, batches.next_batch()), None)
        assert np.isfinite(float(loss)), i
    model, _ = nnx.merge(graphdef, state)
    base_after = jax.tree.map(np.asarray, nnx.state(model, lora.BASE))
    for x, y in zip(jax.tree.leaves(base_before), jax.tree.leaves(base_after), strict=True):
        assert x.dtype == y.dtype and np.array_equal(x, y)  # bit-identical
    adapters_after = lora.adapter_tensors(model)
    assert len(adapters_after) == 2 * 4 * 2  # (a, b) x 4 projections x 2 layers
    for name, value in adapters_after.items():
        assert not np.array_equal(value, adapters_before[name]), name


@pytest.mark.parametrize("mode", ["full", "lora"])
def test_remat_gives_the_same_steps(hf_dirs, mode):
    config = STEPS.replace(lora_rank=4 if mode == "lora" else 0, lora_base_dtype="float32")
    runs = [_train_state(hf_dirs["gemma2"], config.replace(remat=r)) for r in (False, True)]
    batches = [runs[0][3].next_batch() for _ in range(2)]
    results = []
    for graphdef, state, step, _, mesh in runs:
        for batch in batches:
            state, loss = step(state, place_batch(mesh, 1, batch), None)
        model, _ = nnx.merge(graphdef, state)
        results.append((float(loss), _flat(model)))
    (loss, params), (remat_loss, remat_params) = results
    assert abs(loss - remat_loss) < 1e-5
    for name, value in params.items():
        np.testing.assert_allclose(remat_params[name], value, rtol=1e-4, atol=1e-5, err_msg=name)


def test_adapter_checkpoint_loads_back_onto_its_base(hf_dirs, tmp_path):
    base_dir = tmp_path / "base"
    shutil.copytree(hf_dirs["qwen2"], base_dir)
    config = STEPS.replace(lora_rank=4, lora_base_dtype="float32", lora_targets=["k", "up"])
    result = train(TASKS, EXAMPLES, config, tmp_path / "adapter", init_checkpoint=base_dir)
    saved = json.loads((result.checkpoint_dir / "adapter.json").read_text())
    assert saved["base"] == str(base_dir.absolute()) and saved["scale"] == 16.0 / 4
    merged = load_checkpoint(result.checkpoint_dir)

    # The same adapters on the base as LoRA modules (unmerged) give the same logits.
    base = from_pretrained(base_dir)
    model = lora.apply_lora(base.model, ["k", "up"], 4, 16.0, nnx.Rngs(0))
    lora.set_adapter_tensors(model, load_file(str(result.checkpoint_dir / ADAPTER_FILE)))
    tokens = jnp.asarray([base.tokenizer.encode(TEXTS[0])[:40]])
    np.testing.assert_allclose(
        np.asarray(merged.model(tokens)), np.asarray(model(tokens)), atol=1e-4, rtol=1e-4
    )
    assert not np.allclose(
        np.asarray(merged.model(tokens)), np.asarray(from_pretrained(base_dir).model(tokens))
    )

    # Another base under the same path is refused, naming both hashes.
    tensors = load_file(str(base_dir / "model.safetensors"))
    tensors["model.norm.weight"] = tensors["model.norm.weight"] + 1.0
    save_file(tensors, str(base_dir / "model.safetensors"), {"format": "pt"})
    with pytest.raises(ValueError, match="sha256"):
        load_checkpoint(result.checkpoint_dir)


def test_refusals(hf_dirs, tmp_path):
    neither = tmp_path / "neither"
    neither.mkdir()
    (neither / "config.json").write_text("{}")
    with pytest.raises(ValueError, match="not a model checkpoint.*Hugging Face"):
        train(TASKS, EXAMPLES, STEPS, tmp_path / "x", init_checkpoint=neither)
    same_start = Task(
        "yes_or_yes",
        TaskType.CLASSIFICATION,
        "Agree?",
        "Is it so?",
        ("text",),
        ("verdict",),
        ("Yes", "Yes!"),
    )
    examples = [
        Example(task="yes_or_yes", context={"text": "so it is"}, label="Yes", id=str(i))
        for i in range(4)
    ]
    with pytest.raises(ValueError, match="'yes_or_yes'.*'Yes' and 'Yes!' both start with"):
        train(
            {"yes_or_yes": same_start},
            examples,
            STEPS,
            tmp_path / "y",
            init_checkpoint=hf_dirs["llama"],
        )
    with pytest.raises(ValueError, match="needs|give --init"):
        train(TASKS, EXAMPLES, STEPS.replace(lora_rank=2), tmp_path / "z")


def test_cli_init_lora_and_export(hf_dirs, tmp_path, capsys):
    data = tmp_path / "data.jsonl"
    write_jsonl(data, DEMO_TASKS, EXAMPLES)
    out, hf_out = tmp_path / "adapter", tmp_path / "hf"
    argv = ["train", "--data", str(data), "--out", str(out), "--preset", "smoke"]
    argv += ["--init", str(hf_dirs["mistral"]), "--steps", "2", "--lora-rank", "2"]
    argv += ["--lora-targets", "q,o,down", "--remat", "--set", "batch_size=4"]
    assert training_cli.main(argv) == 0
    assert json.loads(capsys.readouterr().out)["steps"] == 2
    adapter = json.loads((out / "adapter.json").read_text())
    assert adapter["targets"] == ["q", "o", "down"] and adapter["rank"] == 2
    assert training_cli.main(["export-hf", "--model", str(out), "--out", str(hf_out)]) == 0
    exported = from_pretrained(hf_out)
    assert exported.config == from_pretrained(hf_dirs["mistral"]).config
    bad = ["train", "--data", str(data), "--out", str(tmp_path / "b"), "--init", str(tmp_path)]
    assert training_cli.main(bad) == 2
    assert "not a model checkpoint" in capsys.readouterr().err


def test_a_cancelled_lora_run_resumes_to_the_same_adapters(hf_dirs, tmp_path):
    """The resumable state keeps the adapters, their optimizer state and the pretrained
    tokenizer (with its special tokens); the resumed run ends where an uninterrupted one does."""
    config = STEPS.replace(steps=4, lora_rank=4, checkpoint_every=0, warmup_steps=2)
    whole = train(TASKS, EXAMPLES, config, tmp_path / "whole", init_checkpoint=hf_dirs["qwen3"])
    state = tmp_path / "state"
    with pytest.raises(TrainingCancelled):
        train(
            TASKS,
            EXAMPLES,
            config,
            tmp_path / "resumed",
            init_checkpoint=hf_dirs["qwen3"],
            state_dir=state,
            should_stop=lambda: True,
        )
    assert json.loads((state / "special_tokens.json").read_text())["bos_id"] == 1
    resumed = train(
        TASKS,
        EXAMPLES,
        config,
        tmp_path / "resumed",
        init_checkpoint=hf_dirs["qwen3"],
        state_dir=state,
    )
    assert resumed.resumed_from_step == 1
    a = load_file(str(whole.checkpoint_dir / ADAPTER_FILE))
    b = load_file(str(resumed.checkpoint_dir / ADAPTER_FILE))
    assert a.keys() == b.keys()
    for name in a:
        np.testing.assert_allclose(a[name], b[name], rtol=1e-5, atol=1e-6, err_msg=name)


def test_the_evaluation_block_spells_a_multi_token_label_whole(hf_dirs):
    """With a pretrained tokenizer " tie" is "Ġt" + more tokens: the verdict position learns the
    first, and with evaluation_block the rest of the label precedes the later output fields."""
    tokenizer = from_pretrained(hf_dirs["llama"]).tokenizer
    task = Task(
        "why",
        TaskType.PAIRWISE,
        "Which is better?",
        "Pick one.",
        ("response A", "response B"),
        ("choice", "explanation"),
        ("A", "B", "tie"),
    )
    context = {"response A": "yes", "response B": "yes"}
    example = Example("why", context, label="tie", id="1", outputs={"explanation": "same"})
    (item,) = encode_examples({"why": task}, [example], tokenizer, 256, evaluation_block=True)
    assert not tokenizer.has_single_token("tie")  # the case this test is about
    assert item.target == tokenizer.label_token_id("tie")
    text = tokenizer.decode([item.target, *item.tail])
    assert text == " tie\nexplanation: same</s>", text
