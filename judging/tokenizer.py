"""Byte-level BPE tokenizer for the built-in judge sizes (Hugging Face `tokenizers`).

Trained on the rendered training corpus so the constant INSTRUCTIONS text compresses into a few
tokens. Digits are split individually so arithmetic stays learnable. Every verdict label, as it
is rendered after the prompt (`render_target(label)`, e.g. " A", " B", " tie"), is exactly ONE
token: the judge reads a verdict from that single token's log-probability.

Word-level byte BPE cannot merge across words, so a task's constant INSTRUCTIONS text would
still cost ~50 tokens per example. `train_tokenizer(..., constant_lines=...)` therefore adds
each line of each task's INSTRUCTIONS block (and the CONTEXT:/EVALUATION: headers), newline
included, as one added token (see `format_constant_lines`). On the demo tasks this shortens the
rendered prompts from ~100 to ~45 tokens, which halves CPU training time. Tasks the tokenizer has
not seen fall back to ordinary BPE for their instructions.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path

from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, trainers

from judging.task_format import Task, render_instructions, render_target

PAD = "<pad>"
EOS = "<eos>"
BOS = "<bos>"
SPECIAL_TOKENS = (PAD, EOS, BOS)
DEFAULT_LABELS = ("A", "B", "tie")


class JudgeTokenizer:
    """A thin wrapper over `tokenizers.Tokenizer` with the judge's label conventions."""

    def __init__(self, tokenizer: Tokenizer) -> None:
        self._tok = tokenizer
        self.pad_id = self._special_id(PAD)
        self.eos_id = self._special_id(EOS)
        self.bos_id = self._special_id(BOS)

    def _special_id(self, token: str) -> int:
        token_id = self._tok.token_to_id(token)
        if token_id is None:
            raise ValueError(f"tokenizer lacks special token {token!r}")
        return token_id

    @property
    def vocab_size(self) -> int:
        return self._tok.get_vocab_size(with_added_tokens=True)

    def encode(self, text: str) -> list[int]:
        return self._tok.encode(text, add_special_tokens=False).ids

    def encode_batch(self, texts: Sequence[str]) -> list[list[int]]:
        return [e.ids for e in self._tok.encode_batch(list(texts), add_special_tokens=False)]

    def decode(self, ids: Iterable[int]) -> str:
        return self._tok.decode(list(ids), skip_special_tokens=False)

    def has_single_token(self, label: str) -> bool:
        return len(self.encode(render_target(label))) == 1

    def label_token_id(self, label: str) -> int:
        """The id of the one token `render_target(label)` encodes to; KeyError if not one token."""
        ids = self.encode(render_target(label))
        if len(ids) != 1:
            raise KeyError(f"label {label!r} is not a single token (encodes to {ids})")
        return ids[0]

    def add_labels(self, labels: Iterable[str]) -> list[str]:
        """Make each label's rendered target a single token; return those that had to be added."""
        added = []
        for label in labels:
            if not self.has_single_token(label):
                # single_word: " A" must not match inside " Answer".
                self._tok.add_tokens(
                    [AddedToken(render_target(label), single_word=True, normalized=False)]
                )
                added.append(label)
                if not self.has_single_token(label):
                    raise ValueError(f"could not make label {label!r} a single token")
        return added

    def to_str(self) -> str:
        return self._tok.to_str()

    @classmethod
    def from_str(cls, data: str) -> JudgeTokenizer:
        return cls(Tokenizer.from_str(data))

    def save(self, path: str | Path) -> None:
        Path(path).write_text(self.to_str(), encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> JudgeTokenizer:
        return cls(Tokenizer.from_file(str(path)))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, JudgeTokenizer):
            return NotImplemented
        return json.loads(self.to_str()) == json.loads(other.to_str())

    __hash__ = None  # type: ignore[assignment]


FORMAT_HEADERS = ("INSTRUCTIONS:\n", "CONTEXT:\n", "EVALUATION:\n")


def format_constant_lines(tasks: Iterable[Task]) -> list[str]:
    """The lines every example of these tasks repeats verbatim: block headers and each task's
    INSTRUCTIONS lines (title, description, output_fields), each with its newline."""
    lines = list(FORMAT_HEADERS)
    for task in tasks:
        lines.extend(render_instructions(task).splitlines(keepends=True))
    return list(dict.fromkeys(lines))


def train_tokenizer(
    texts: Iterable[str],
    vocab_size: int = 1024,
    *,
    labels: Iterable[str] = DEFAULT_LABELS,
    constant_lines: Iterable[str] = (),
) -> JudgeTokenizer:
    """Train a byte-level BPE on `texts`; every label in `labels` (plus A/B/tie) is one token,
    and so is each of `constant_lines` (see `format_constant_lines`)."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Digits(individual_digits=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    constant = [line for line in dict.fromkeys(constant_lines) if line.strip()]
    tok.add_tokens([AddedToken(line, normalized=False) for line in constant])
    judge_tok = JudgeTokenizer(tok)
    all_labels = list(dict.fromkeys([*DEFAULT_LABELS, *labels]))
    judge_tok.add_labels(all_labels)
    return judge_tok
