"""Judge: score examples with a trained judge model from its label tokens' log-probabilities.

The model is loaded once; one jitted function computes, for a padded batch, the log-softmax over
the full vocabulary at the last prompt token (only that position is projected to the
vocabulary). Batches are padded to a fixed batch size and to bucketed lengths (see `bucket_length`)
so jit compiles few shapes. A verdict's probabilities are the softmax restricted to the task's
label tokens. Pairwise items are judged in both orders (JudgeLM): the swapped order's
probabilities are mapped back to the original A/B frame and the two are averaged.

Strictness: a verdict is `valid` only if, in every judged order, the model's most likely next
token over the whole vocabulary is one of the task's label tokens (that is, greedy decoding
would produce a parseable label). An invalid verdict keeps its probabilities but has
`label=None`; it is never silently mapped to a label.

`Judge.load` takes an Ember checkpoint or a local Hugging Face Llama / Mistral / Qwen2 directory
(judging/hf.py). With a pretrained tokenizer a label is scored by its first token in context;
a task whose labels share a first token is refused. `Judge.generate` decodes greedily with a
key/value cache (judging/generate.py) for open-ended and real-valued tasks. The two orders of a
pairwise item share their common prefix's forward pass where that saves work (judging/prefix.py).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from judging import prefix
from judging.checkpoint import LoadedModel, load_checkpoint
from judging.task_format import (
    SWAPPED_LABELS,
    Example,
    Task,
    TaskType,
    parse_evaluation,
    render_prompt,
    swap_pairwise,
)
from judging.tokenizer import JudgeTokenizer
from judging.verdict import Generation, Verdict

MIN_BUCKET = 16


def bucket_length(n: int, max_len: int) -> int:
    """The smallest bucket >= n, capped at max_len.

    Buckets are 16, 32, 48, 64, then two per octave (96, 128, 192, 256, 384, ...), so jit
    compiles few shapes while padding wastes at most a third of a batch.
    """
    if n <= 64:
        return min(max_len, max(MIN_BUCKET, 16 * math.ceil(n / 16)))
    power = 1 << math.ceil(math.log2(n))
    return min(max_len, power * 3 // 4 if n <= power * 3 // 4 else power)


def encode_prompt(
    tokenizer: JudgeTokenizer, task: Task, example: Example, max_len: int
) -> list[int]:
    """Prompt token ids (BOS + prompt), left-truncated to max_len so the label position stays.

    A tokenizer whose `bos_id` is None (e.g. Qwen2) gets no BOS."""
    bos = [] if tokenizer.bos_id is None else [tokenizer.bos_id]
    ids = [*bos, *tokenizer.encode(render_prompt(task, example))]
    return ids[-max_len:]


def pad_batch(
    sequences: Sequence[Sequence[int]], pad_id: int, length: int, rows: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Right-pad to [rows, length]: (tokens, attention mask, index of each row's last token)."""
    tokens = np.full((rows, length), pad_id, dtype=np.int32)
    mask = np.zeros((rows, length), dtype=bool)
    last = np.zeros((rows,), dtype=np.int32)
    for i, seq in enumerate(sequences):
        tokens[i, : len(seq)] = seq
        mask[i, : len(seq)] = True
        last[i] = len(seq) - 1
    return tokens, mask, last


def _score_fn(graphdef: nnx.GraphDef, state: nnx.State, tokens, mask, last):
    model = nnx.merge(graphdef, state)
    logits_BV = model.logits_at(tokens, last, mask)
    return jax.nn.log_softmax(logits_BV.astype(jnp.float32), axis=-1)


_score_jit = jax.jit(_score_fn, static_argnums=0)


def _is_number(label: str) -> bool:
    try:
        float(label)
    except ValueError:
        return False
    return True


class Judge:
    def __init__(self, loaded: LoadedModel) -> None:
        self.loaded = loaded
        self.tokenizer = loaded.tokenizer
        self.config = loaded.config
        self._graphdef, self._state = nnx.split(loaded.model)

    @classmethod
    def load(cls, directory: str | Path) -> Judge:
        """An Ember checkpoint directory, or a local Hugging Face checkpoint directory."""
        from judging import hf

        if hf.is_hf_checkpoint(directory) and not (Path(directory) / "params").exists():
            return cls(hf.from_pretrained(directory))
        return cls(load_checkpoint(directory))

    @property
    def metadata(self) -> dict[str, Any]:
        return self.loaded.metadata

    def label_log_probs(self, prompts: Sequence[Sequence[int]], batch_size: int = 32) -> np.ndarray:
        """Full-vocabulary log-probabilities of the next token after each prompt: [N, V]."""
        out = np.zeros((len(prompts), self.config.vocab_size), dtype=np.float32)
        order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            seqs = [prompts[i] for i in chunk]
            length = bucket_length(max(len(s) for s in seqs), self.config.max_len)
            tokens, mask, last = pad_batch(seqs, self.tokenizer.pad_id, length, batch_size)
            log_probs = _score_jit(self._graphdef, self._state, tokens, mask, last)
            out[chunk] = np.asarray(log_probs)[: len(chunk)]
        return out

    def score_prompts(
        self,
        prompts: Sequence[Sequence[int]],
        pairs: Sequence[tuple[int, int]],
        batch_size: int,
        share_prefix: bool | None,
    ) -> np.ndarray:
        """Like `label_log_probs`, but the two orders of each pair in `pairs` (row indices into
        `prompts`) share their common prefix's forward pass in the batches where that pays
        (judging/prefix.py); share_prefix=True forces it, False turns it off."""
        out = np.zeros((len(prompts), self.config.vocab_size), dtype=np.float32)
        plain = set(range(len(prompts)))
        if share_prefix is not False and pairs:

            def bucket(n: int) -> int:
                return bucket_length(n, self.config.max_len)

            order = sorted(pairs, key=lambda r: max(len(prompts[r[0]]), len(prompts[r[1]])))
            for start in range(0, len(order), batch_size):
                chunk = order[start : start + batch_size]
                seqs = [(prompts[a], prompts[b]) for a, b in chunk]
                if share_prefix is None and not prefix.sharing_pays(seqs, bucket):
                    continue
                arrays = prefix.pad_pairs(seqs, self.tokenizer.pad_id, bucket, batch_size)
                log_probs = np.asarray(
                    prefix.score_pairs_shared(self._graphdef, self._state, *arrays)
                )
                for i, (a, b) in enumerate(chunk):
                    out[a], out[b] = log_probs[i, 0], log_probs[i, 1]
                    plain -= {a, b}
        rest = sorted(plain)
        if rest:
            out[rest] = self.label_log_probs([prompts[i] for i in rest], batch_size)
        return out

    def judge(
        self,
        tasks: Mapping[str, Task],
        examples: Sequence[Example],
        both_orders: bool = True,
        batch_size: int = 32,
        share_prefix: bool | None = None,
        explain: bool | None = None,
        max_explanation_tokens: int = 64,
    ) -> list[Verdict]:
        """Verdicts for `examples`. Pairwise examples are scored in both orders by default, their
        common prefix computed once where that pays (share_prefix=None; True forces, False
        disables; the probabilities are the same either way up to float rounding).

        explain (None: for the tasks the checkpoint was trained to explain, metadata "explains";
        True: every task with later output fields; False: never): after a valid verdict, the
        rest of the EVALUATION block is generated greedily from the prompt plus the verdict's
        label token and parsed into `Verdict.explanation` / `outputs`. The probabilities are
        read at the verdict token as without it."""
        # Plan every (example, order) prompt, then score them all in length-sorted batches.
        prompts: list[list[int]] = []
        plans: list[dict[str, Any]] = []
        for example in examples:
            task = tasks.get(example.task)
            plan: dict[str, Any] = {"task": task, "example": example, "rows": {}, "error": None}
            plans.append(plan)
            if task is None:
                plan["error"] = f"unknown task {example.task!r}"
                continue
            if task.type is TaskType.OPEN_ENDED or not task.labels:
                plan["error"] = (
                    "open-ended and real-valued tasks need generation, which this judge does not do"
                )
                continue
            try:
                plan["label_ids"] = [self.tokenizer.label_token_id(lbl) for lbl in task.labels]
            except KeyError as error:
                plan["error"] = f"tokenizer cannot score the task's labels: {error}"
                continue
            if len(set(plan["label_ids"])) < len(plan["label_ids"]):
                plan["error"] = "tokenizer cannot score the task's labels: they share a first token"
                continue
            orders = {"ab": example}
            if task.type is TaskType.PAIRWISE and both_orders:
                orders["ba"] = swap_pairwise(example)
            for name, ordered in orders.items():
                plan["rows"][name] = len(prompts)
                prompts.append(encode_prompt(self.tokenizer, task, ordered, self.config.max_len))
        pairs = [(p["rows"]["ab"], p["rows"]["ba"]) for p in plans if "ba" in p["rows"]]
        log_probs = (
            self.score_prompts(prompts, pairs, batch_size, share_prefix) if prompts else None
        )
        verdicts = [self._verdict(plan, log_probs) for plan in plans]
        if explain is not False:
            trained = set(self.metadata.get("explains") or ())
            wanted = [
                (plan, verdict)
                for plan, verdict in zip(plans, verdicts, strict=True)
                if verdict.valid
                and len(plan["task"].output_fields) > 1
                and (explain or plan["task"].name in trained)
            ]
            if wanted:
                self._explain(wanted, prompts, max_explanation_tokens, batch_size)
        return verdicts

    def _explain(self, wanted, prompts, max_new_tokens: int, batch_size: int) -> None:
        """Generate the EVALUATION block's rest after each verdict's label token (in place)."""
        from judging.generate import greedy_generate

        budget = max(1, self.config.max_len - max_new_tokens)
        starts = []
        for plan, verdict in wanted:
            label_id = self.tokenizer.label_token_id(verdict.label)
            starts.append([*prompts[plan["rows"]["ab"]], label_id][-budget:])
        outputs = greedy_generate(
            self.loaded.model,
            starts,
            max_new_tokens,
            eos_id=self.tokenizer.eos_id,
            pad_id=self.tokenizer.pad_id,
            bucket=lambda n: bucket_length(n, budget),
            batch_size=batch_size,
        )
        for (plan, verdict), start, ids in zip(wanted, starts, outputs, strict=True):
            task = plan["task"]
            # Decoded from the label's token on: a label a pretrained tokenizer spells in several
            # tokens continues in the generated ids (" t" + "ie"); else the label as rendered.
            whole = self.tokenizer.decode([start[-1], *ids])
            parsed = parse_evaluation(task, f"{task.label_field}:{whole}")
            if not parsed.valid or parsed.label != verdict.label:
                text = self.tokenizer.decode(ids)
                parsed = parse_evaluation(task, f"{task.label_field}: {verdict.label}{text}")
            later = {f: parsed.fields[f] for f in task.output_fields[1:] if f in parsed.fields}
            verdict.outputs = later
            verdict.explanation = later.get(task.output_fields[1])

    def generate(
        self,
        tasks: Mapping[str, Task],
        examples: Sequence[Example],
        max_new_tokens: int = 64,
        batch_size: int = 32,
    ) -> list[Generation]:
        """Greedy continuations of each example's prompt (any task type), parsed strictly."""
        from judging.generate import greedy_generate

        budget = max(1, self.config.max_len - max_new_tokens)
        prompts, rows = [], []
        for example in examples:
            task = tasks.get(example.task)
            rows.append(None if task is None else len(prompts))
            if task is not None:
                prompts.append(encode_prompt(self.tokenizer, task, example, budget))
        outputs = greedy_generate(
            self.loaded.model,
            prompts,
            max_new_tokens,
            eos_id=self.tokenizer.eos_id,
            pad_id=self.tokenizer.pad_id,
            bucket=lambda n: bucket_length(n, budget),
            batch_size=batch_size,
        )
        results = []
        for example, row in zip(examples, rows, strict=True):
            if row is None:
                results.append(
                    Generation(
                        example.id,
                        example.task,
                        "",
                        [],
                        False,
                        False,
                        None,
                        {},
                        error=f"unknown task {example.task!r}",
                    )
                )
                continue
            task = tasks[example.task]
            ids = outputs[row]
            text = self.tokenizer.decode(ids)
            parsed = parse_evaluation(task, f"{task.label_field}:{text}")
            finished = len(ids) < max_new_tokens  # EOS came (and was cut) before the limit
            results.append(
                Generation(
                    example_id=example.id,
                    task=task.name,
                    text=text,
                    token_ids=ids,
                    finished=finished,
                    valid=parsed.valid,
                    label=parsed.label,
                    fields={k: v for k, v in parsed.fields.items() if k != "__label__"},
                    error=parsed.error,
                )
            )
        return results

    def _verdict(self, plan: dict[str, Any], log_probs: np.ndarray | None) -> Verdict:
        task: Task | None = plan["task"]
        example: Example = plan["example"]
        if plan["error"] is not None:
            return Verdict(
                example.id, example.task, None, {}, 0.0, {}, None, valid=False, error=plan["error"]
            )
        assert task is not None and log_probs is not None
        labels = list(task.labels)
        label_ids = np.asarray(plan["label_ids"])
        order_probs: dict[str, dict[str, float]] = {}
        greedy_ok = True
        for name, row in plan["rows"].items():
            restricted = log_probs[row, label_ids]
            probs = np.exp(restricted - restricted.max())
            probs /= probs.sum()
            by_label = dict(zip(labels, probs.tolist(), strict=True))
            if name == "ba":  # map the swapped order back to the original A/B frame
                by_label = {SWAPPED_LABELS.get(lbl, lbl): p for lbl, p in by_label.items()}
                by_label = {lbl: by_label[lbl] for lbl in labels}
            order_probs[name] = by_label
            greedy_ok &= int(np.argmax(log_probs[row])) in set(label_ids.tolist())
        probabilities = {
            lbl: float(np.mean([p[lbl] for p in order_probs.values()])) for lbl in labels
        }
        best = max(labels, key=lambda lbl: probabilities[lbl])
        consistent = None
        if len(order_probs) == 2:
            picks = {max(labels, key=p.__getitem__) for p in order_probs.values()}
            consistent = len(picks) == 1
        expected = None
        if task.type is TaskType.POINTWISE and all(_is_number(lbl) for lbl in labels):
            expected = float(sum(float(lbl) * p for lbl, p in probabilities.items()))
        return Verdict(
            example_id=example.id,
            task=task.name,
            label=best if greedy_ok else None,
            probabilities=probabilities,
            confidence=probabilities[best],
            order_probabilities=order_probs,
            consistent=consistent,
            valid=greedy_ok,
            expected_score=expected,
            error=None if greedy_ok else "most likely next token is not one of the task's labels",
        )
