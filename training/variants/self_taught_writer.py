"""The Self-Taught Evaluator's writer and sampled judgments (arXiv 2408.02666, section 3).

The writer is a model that continues FLAMe prompts: the autorater itself or a configured
generator checkpoint (an Ember or local Hugging Face directory). For an instruction x it

1. writes a modified instruction x' that is similar but different (`MODIFY`),
2. answers x (the better response y_w) and x' (`ANSWER`); the answer to x' is the worse
   response y_l for x, by construction.

The judge then samples N judgments of (x, y_w, y_l) with temperature (verdict, then the
explanation its EVALUATION block continues with); `sample_judgments` parses them strictly.
Everything runs on judging/generate.py's cached, bucketed decode (`sample_generate`).

The writer's quality is its checkpoint's: a tiny model trained from scratch here writes token
soup that is only "similar" by accident; a pretrained instruction-following checkpoint is
needed for sensible instructions and answers.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Sequence

from judging.checkpoint import LoadedModel
from judging.generate import sample_generate
from judging.inference import bucket_length, encode_prompt
from judging.task_format import (
    RESPONSE_A,
    RESPONSE_B,
    Example,
    ParsedEvaluation,
    Task,
    TaskType,
    parse_evaluation,
)

MODIFY = Task(
    name="self-taught/modify",
    type=TaskType.OPEN_ENDED,
    title="Write a similar but different instruction",
    description=(
        "Write a new instruction that is highly relevant to the given one but asks for "
        "something different, so that a good answer to the new instruction is a worse answer "
        "to the given one. Write only the new instruction, on one line."
    ),
    context_fields=("instruction",),
    output_fields=("modified instruction",),
)
ANSWER = Task(
    name="self-taught/answer",
    type=TaskType.OPEN_ENDED,
    title="Answer the instruction",
    description="Write a helpful, correct response to the instruction, on one line.",
    context_fields=("instruction",),
    output_fields=("response",),
)


def instruction_field(task: Task) -> str:
    """The one context field of a pairwise task that is not a response (its instruction)."""
    fields = [f for f in task.context_fields if f not in (RESPONSE_A, RESPONSE_B)]
    if task.type is not TaskType.PAIRWISE or len(fields) != 1:
        raise ValueError(
            f"task {task.name!r}: the Self-Taught loop needs a pairwise task with exactly one "
            f"context field besides the responses (has {fields})"
        )
    return fields[0]


def _continue(
    loaded: LoadedModel,
    task: Task,
    examples: Sequence[Example],
    *,
    max_new_tokens: int,
    temperature: float,
    seed: int,
    batch_size: int = 32,
) -> list[list[int]]:
    """Sampled continuations (token ids, EOS cut) of each example's prompt."""
    budget = max(1, loaded.config.max_len - max_new_tokens)
    prompts = [encode_prompt(loaded.tokenizer, task, e, budget) for e in examples]
    outputs = sample_generate(
        loaded.model,
        prompts,
        max_new_tokens,
        eos_id=loaded.tokenizer.eos_id,
        pad_id=loaded.tokenizer.pad_id,
        bucket=lambda n: bucket_length(n, budget),
        temperature=temperature,
        seed=seed,
        batch_size=batch_size,
    )
    return outputs


@dataclasses.dataclass
class Writer:
    """Writes instructions and answers by sampling from `loaded` (first line of the output)."""

    loaded: LoadedModel
    max_new_tokens: int = 48
    temperature: float = 0.8

    def write(self, task: Task, instructions: Sequence[str], seed: int) -> list[str | None]:
        """The output field's text for each instruction; None where nothing usable came."""
        examples = [Example(task.name, {"instruction": text}) for text in instructions]
        outputs = _continue(
            self.loaded,
            task,
            examples,
            max_new_tokens=self.max_new_tokens,
            temperature=self.temperature,
            seed=seed,
        )
        texts = [self.loaded.tokenizer.decode(ids) for ids in outputs]
        lines = [(text.strip().splitlines() or [""])[0].strip() for text in texts]
        return [line or None for line in lines]


@dataclasses.dataclass
class WrittenPair:
    """A synthetic pair: the instruction, its written twin, and the two written answers."""

    source: str
    written_instruction: str
    better: str
    worse: str
    id: str


def write_pairs(
    writer: Writer, instructions: Sequence[str], seed: int, ids: Sequence[str] | None = None
) -> tuple[list[WrittenPair], dict[str, int]]:
    """For each instruction: a modified instruction, an answer to each; a pair is kept only
    when the writer gave all three and the modified instruction and the answers differ."""
    ids = list(ids) if ids is not None else [str(i) for i in range(len(instructions))]
    modified = writer.write(MODIFY, instructions, seed)
    written = [(i, m) for i, m in enumerate(modified) if m and m.strip() != instructions[i].strip()]
    sources = [instructions[i] for i, _ in written]
    better = writer.write(ANSWER, sources, seed + 1)
    worse = writer.write(ANSWER, [m for _, m in written], seed + 2)
    pairs = []
    for (i, m), good, bad in zip(written, better, worse, strict=True):
        if good and bad and good != bad:
            pairs.append(WrittenPair(instructions[i], m, good, bad, id=ids[i]))
    counts = {"prompts": len(instructions), "written": len(written), "pairs": len(pairs)}
    return pairs, counts


def pair_examples(
    task: Task, pairs: Sequence[WrittenPair], seed: int, round_number: int
) -> list[Example]:
    """Each pair as an example of the pairwise `task`, the better response at A or B at random
    (label by construction); provenance names the written instruction."""
    field = instruction_field(task)
    rng = random.Random(seed)
    examples = []
    for pair in pairs:
        first = rng.random() < 0.5
        a, b = (pair.better, pair.worse) if first else (pair.worse, pair.better)
        examples.append(
            Example(
                task.name,
                {field: pair.source, RESPONSE_A: a, RESPONSE_B: b},
                label="A" if first else "B",
                id=f"self-taught/r{round_number}/{pair.id}",
                provenance={
                    "self_taught": {
                        "round": round_number,
                        "source_id": pair.id,
                        "written_instruction": pair.written_instruction,
                    }
                },
            )
        )
    return examples


def sample_judgments(
    loaded: LoadedModel,
    task: Task,
    examples: Sequence[Example],
    n: int,
    *,
    temperature: float = 1.0,
    max_new_tokens: int = 48,
    seed: int = 0,
) -> list[list[ParsedEvaluation]]:
    """N sampled EVALUATION blocks per example. The verdict is the sampled first token, read as
    the judge reads it (one of the task's label tokens, else the sample is invalid: never
    mapped to a label); the later fields (the reasoning) are the rest of the sample, parsed
    strictly after that label (none when it does not parse, e.g. from a judge trained on the
    verdict alone, which does not stop after it)."""
    repeated = [e for e in examples for _ in range(n)]
    outputs = _continue(
        loaded,
        task,
        repeated,
        max_new_tokens=max_new_tokens,
        temperature=temperature,
        seed=seed,
    )
    by_token = {loaded.tokenizer.label_token_id(label): label for label in task.labels}
    parsed = []
    for ids in outputs:
        label = by_token.get(ids[0]) if ids else None
        if label is None:
            parsed.append(ParsedEvaluation(False, {}, "the first sampled token is not a label"))
            continue
        rest = parse_evaluation(
            task, f"{task.label_field}: {label}{loaded.tokenizer.decode(ids[1:])}"
        )
        later = {f: v for f, v in rest.fields.items() if rest.valid and f in task.output_fields[1:]}
        parsed.append(ParsedEvaluation(True, {**later, "__label__": label}))
    return [parsed[i * n : (i + 1) * n] for i in range(len(examples))]


def keep_correct(
    task: Task,
    examples: Sequence[Example],
    judgments: Sequence[Sequence[ParsedEvaluation]],
    seed: int,
) -> tuple[list[Example], dict[str, int]]:
    """Rejection by correctness: per pair, one sampled judgment (at random) among those whose
    verdict is the synthetic label, its later fields as the example's outputs; then A/B
    balance (the larger side downsampled)."""
    rng = random.Random(seed)
    kept: list[Example] = []
    sampled = correct = 0
    for example, samples in zip(examples, judgments, strict=True):
        sampled += len(samples)
        right = [s for s in samples if s.valid and s.label == example.label]
        correct += len(right)
        if not right:
            continue
        chosen = rng.choice(right)
        outputs = {f: chosen.fields[f] for f in task.output_fields[1:] if chosen.fields.get(f)}
        provenance = dict(example.provenance)
        provenance["self_taught"] = {**provenance["self_taught"], "judgment": chosen.label}
        kept.append(dataclasses.replace(example, outputs=outputs or None, provenance=provenance))
    by_label = {label: [e for e in kept if e.label == label] for label in ("A", "B")}
    size = min(len(v) for v in by_label.values())
    balanced = [e for items in by_label.values() for e in rng.sample(items, size)]
    rng.shuffle(balanced)
    counts = {
        "judgments_sampled": sampled,
        "judgments_correct": correct,
        "kept": len(kept),
        "kept_A": len(by_label["A"]),
        "kept_B": len(by_label["B"]),
        "balanced": len(balanced),
    }
    return balanced, counts
