"""The generative Self-Taught loop (training/variants/self_taught_loop.py) on a tiny model: a
round driven end to end by generation. The seed judge (trained on a known-answer pairwise task
with a templated explanation) is also the writer; every kept pair comes from an instruction it
wrote and every kept judgment's verdict is the pair's synthetic label. A tiny model writes token
soup, so this checks the loop, not the quality of what it writes (that needs a pretrained
checkpoint)."""

import json
import random

import pytest

from judging.checkpoint import load_checkpoint
from judging.task_format import RESPONSE_A, RESPONSE_B, Example, Task, TaskType, read_jsonl
from training.config import TrainConfig
from training.loop import train
from training.variants.self_taught_loop import self_taught_generative
from training.variants.self_taught_writer import instruction_field

PICK = Task(
    name="pick_word",
    type=TaskType.PAIRWISE,
    title="Which response is about the instruction's word?",
    description="Answer 'A' or 'B', then say which word decided it.",
    context_fields=("instruction", RESPONSE_A, RESPONSE_B),
    output_fields=("choice", "explanation"),
    labels=("A", "B"),
)
WORDS = "tiger horse rabbit eagle spider camel otter whale lamp bridge violin candle".split()


def _examples(words, seed: int) -> list[Example]:
    rng = random.Random(seed)
    out = []
    for i, word in enumerate(words):
        for j in range(6):
            other = rng.choice([w for w in WORDS if w != word])
            good, bad = f"the {word} is here", f"the {other} is here"
            first = rng.random() < 0.5
            out.append(
                Example(
                    PICK.name,
                    {
                        "instruction": f"write about the {word}",
                        RESPONSE_A: good if first else bad,
                        RESPONSE_B: bad if first else good,
                    },
                    label="A" if first else "B",
                    id=f"{seed}-{i}-{j}",
                    outputs={"explanation": f"because {word}"},
                )
            )
    return out


@pytest.fixture(scope="module")
def seed_judge(tmp_path_factory):
    out = tmp_path_factory.mktemp("seed") / "judge"
    config = TrainConfig(
        steps=150,
        batch_size=16,
        learning_rate=3e-3,
        warmup_steps=10,
        vocab_size=512,
        max_len=128,
        log_every=50,
        evaluation_block=True,
        model_overrides={"n_layers": 2},
    )
    train({PICK.name: PICK}, _examples(WORDS, 0), config, out)
    return out


def test_a_round_written_sampled_filtered_balanced_and_retrained(seed_judge, tmp_path):
    prompts = [f"write about the {w} please" for w in WORDS] + [f"describe a {w}" for w in WORDS]
    config = TrainConfig(
        steps=10, batch_size=8, learning_rate=1e-3, warmup_steps=1, log_every=5, max_len=128
    )
    rounds = []
    report = self_taught_generative(
        seed_judge,
        PICK,
        prompts,
        config,
        tmp_path / "st",
        rounds=1,
        samples=4,
        writer_temperature=1.5,
        max_new_tokens=24,
        heldout=_examples(WORDS[:4], 9)[:12],
        on_round=rounds.append,
    )
    print(json.dumps(report["rounds"][1], indent=1)[:3000])
    assert [r["round"] for r in rounds] == [0, 1] and report["rounds"] == rounds
    entry = rounds[1]
    assert entry["prompts"] == len(prompts) and entry["written"] > 0 and entry["pairs"] > 0
    assert entry["kept"] > 0 and entry["balanced"] > 0 and entry["trained"]
    assert entry["judgments_sampled"] == 4 * entry["pairs"]
    assert entry["balanced"] == 2 * min(entry["kept_A"], entry["kept_B"])
    assert isinstance(entry["accuracy"], float) and isinstance(rounds[0]["accuracy"], float)
    tasks, kept = read_jsonl(entry["kept_pairs_file"])
    assert len(kept) == entry["balanced"] and list(tasks) == [PICK.name]
    assert sum(e.label == "A" for e in kept) == sum(e.label == "B" for e in kept)
    field = instruction_field(PICK)
    for example in kept:
        origin = example.provenance["self_taught"]
        # Every kept pair comes from an instruction the model wrote for one of the prompts ...
        assert example.context[field] in prompts
        assert origin["written_instruction"].strip()
        assert origin["written_instruction"] != example.context[field]
        # ... and its kept judgment's verdict is the synthetic label.
        assert origin["judgment"] == example.label
    shown = entry["kept_pairs_shown"]
    assert (
        shown
        and shown[0]["written_instruction"]
        == kept[0].provenance["self_taught"]["written_instruction"]
    )
    retrained = load_checkpoint(entry["checkpoint"])
    assert retrained.metadata["variant"]["name"] == "self-taught-generative"
    assert retrained.metadata["train_config"]["evaluation_block"] is True
    saved = json.loads((tmp_path / "st" / "self_taught.json").read_text())
    assert saved["rounds"][1]["kept"] == entry["kept"]


def test_the_command_line_runs_the_generative_loop_on_unlabelled_prompts(
    seed_judge, tmp_path, capsys
):
    from judging.task_format import write_jsonl
    from training import __main__ as training_cli

    unlabelled = [
        Example(PICK.name, {"instruction": f"tell me about a {w}", RESPONSE_A: "", RESPONSE_B: ""})
        for w in WORDS
    ]
    data = tmp_path / "prompts.jsonl"
    write_jsonl(data, [PICK], unlabelled)
    args = ["self-taught", "--generate", "--seed", str(seed_judge), "--data", str(data)]
    args += ["--out", str(tmp_path / "out"), "--preset", "smoke", "--rounds", "1"]
    args += ["--samples", "2", "--writer-temperature", "1.5"]
    assert training_cli.main(args) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["rounds"][1]["written"] > 0 and printed["seed_accuracy"] is None
    report = json.loads((tmp_path / "out" / "self_taught.json").read_text())
    assert report["mode"] == "generative" and report["prompts"] == len(WORDS)
    bad = training_cli.main(args[:-6] + ["--task", "nope", "--out", str(tmp_path / "x")])
    assert bad != 0 and "--task 'nope'" in capsys.readouterr().err


def test_the_app_variant_picks_the_task_runs_the_loop_and_leaves_the_judge_in_out_dir(
    seed_judge, tmp_path
):
    """webapp/retraining/variants.py (no Django): the project's pairwise task with the most
    instructions is chosen, the loop runs from the live checkpoint, its last judge lands in
    out_dir with the report's rounds."""
    from webapp.retraining.variants import self_taught_prompts, train_self_taught

    other = Task("other", TaskType.CLASSIFICATION, "t", "d", ("text",), ("answer",), ("y", "n"))
    tasks = {PICK.name: PICK, other.name: other}
    items = _examples(WORDS, 5) + [Example("other", {"text": "x"}, label="y")]
    task, prompts = self_taught_prompts(tasks, items)
    assert task is PICK and len(prompts) == len(WORDS)
    with pytest.raises(ValueError, match="at least two distinct instructions"):
        self_taught_prompts({other.name: other}, items)
    config = TrainConfig(steps=4, batch_size=8, warmup_steps=1, log_every=2, max_len=128)
    out, report = train_self_taught(
        seed_judge, tasks, items, config, tmp_path / "candidate", heldout=items[:6], samples=2
    )
    assert out == tmp_path / "candidate" and (out / "metadata.json").exists()
    assert [r["round"] for r in report["rounds"]] == [0, 1]
    assert report["prompts"] == len(WORDS) and report["rounds"][1]["pairs"] >= 0
    assert isinstance(report["final_accuracy"], float)
    assert load_checkpoint(out).metadata["steps"] in (4, 150)  # retrained, or the seed kept
