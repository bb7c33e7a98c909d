"""The foundation: a registered, content-hashed mixture of the public human-judgment tasks, and
how a project's mixture folds its own tasks into it (FLAMe's multitask idea; no Django here).

A deployment points EMBER_FOUNDATION_DATA at a folder. Each entry found there is read:

    <name>.jsonl        a converted file in Ember's format (judging.task_format, one Example a
                        line), e.g. the output of `python -m judging convert`
    <format>/           a dataset folder a converter knows (judging.converters, e.g. summedits/,
                        qa-feedback/ as in shared/data), converted as `python -m training recipe`
                        does (training.recipes.data.load_sources: closed-label tasks, human labels)
                        except the sets the recipe leaves out (EXCLUDED_SOURCES: licence, no
                        human labels), listed as skipped with the recipe's reason

Anything else is listed as skipped. Examples are split by prompt (the recipe's prompt_key, so
one prompt never sits on both sides): `heldout_percent` of them are the foundation's held-out
tasks (the gate's "no forgetting" check), the rest are trained on, at most `max_per_task` per
task (a seeded subsample). The mixture's weights are FLAMe's examples-proportional weights
with a per-task cap (training.mixture.mixture_weights). The directory is
<out>/<sha256>/ with train.jsonl, heldout.jsonl and foundation.json (the manifest); the hash is
over both files, so the same data always gives the same foundation.

A project's retrain mixes the foundation's train tasks with the project's: `combine_weights`
gives the project's tasks `project_share` of the sampling weight (examples-proportional within
it, or the project's explicit weights) and the foundation's tasks the rest, in the
foundation's proportions.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import random
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from judging.task_format import Example, Task, TaskType, read_jsonl, write_jsonl
from training.mixture import mixture_weights

MANIFEST_FILE = "foundation.json"
TRAIN_FILE = "train.jsonl"
HELDOUT_FILE = "heldout.jsonl"
DEFAULT_HELDOUT_PERCENT = 10
DEFAULT_MAX_PER_TASK = 2000
DEFAULT_CAP = 2**16


@dataclasses.dataclass(frozen=True)
class Foundation:
    directory: Path
    sha256: str
    tasks: dict[str, Task]
    weights: dict[str, float]  # train task -> sampling weight (sums to 1)
    train_counts: dict[str, int]
    heldout_counts: dict[str, int]
    sources: dict[str, Any]

    @property
    def train_path(self) -> Path:
        return self.directory / TRAIN_FILE

    @property
    def heldout_path(self) -> Path:
        return self.directory / HELDOUT_FILE

    def manifest(self) -> dict[str, Any]:
        return {
            "sha256": self.sha256,
            "tasks": {name: task.to_dict() for name, task in sorted(self.tasks.items())},
            "weights": self.weights,
            "train_counts": self.train_counts,
            "heldout_counts": self.heldout_counts,
            "sources": self.sources,
        }


def _scorable(tasks: Mapping[str, Task], examples: Sequence[Example]):
    kept = {n: t for n, t in tasks.items() if t.type is not TaskType.OPEN_ENDED and t.labels}
    rows = [e for e in examples if e.task in kept and e.label in kept[e.task].labels]
    return kept, rows


def discover(folder: str | Path) -> tuple[dict[str, Task], list[Example], dict[str, Any]]:
    """Every task found in FOLDER (converted .jsonl files and converter dataset folders), with
    its labelled examples, and per source what came from it. ValueError naming the folder when
    it does not exist or a task is defined twice differently."""
    from judging.converters import available_formats
    from training.recipes.data import EXCLUDED_SOURCES, load_sources

    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"foundation data folder {folder}: no such directory")
    formats = set(available_formats())
    tasks: dict[str, Task] = {}
    examples: list[Example] = []
    sources: dict[str, Any] = {}
    for entry in sorted(folder.iterdir()):
        if entry.is_file() and entry.suffix == ".jsonl":
            found, rows = read_jsonl(entry)
        elif entry.is_dir() and entry.name in EXCLUDED_SOURCES:
            sources[entry.name] = {"skipped": EXCLUDED_SOURCES[entry.name]}
            continue
        elif entry.is_dir() and entry.name in formats:
            found, rows, _ = load_sources(folder, [entry.name])
        else:
            sources[entry.name] = {"skipped": "not a .jsonl file or a known converter folder"}
            continue
        found, rows = _scorable(found, rows)
        for name, task in found.items():
            if name in tasks and tasks[name] != task:
                raise ValueError(f"{entry}: task {name!r} is defined differently in another source")
        tasks.update(found)
        examples.extend(rows)
        sources[entry.name] = {"tasks": sorted(found), "examples": len(rows)}
    return tasks, examples, sources


def split(
    tasks: Mapping[str, Task], examples: Sequence[Example], heldout_percent: int
) -> tuple[list[Example], list[Example]]:
    """(train, heldout) by prompt (training.recipes.data.prompt_key)."""
    from training.recipes.data import prompt_key, split_of

    train, heldout = [], []
    for example in examples:
        side = split_of(prompt_key(tasks[example.task], example), heldout_percent, 0)
        (heldout if side == "test" else train).append(example)
    return train, heldout


def _cap_per_task(examples: Sequence[Example], limit: int | None, seed: int) -> list[Example]:
    if not limit:
        return list(examples)
    by_task: dict[str, list[Example]] = {}
    for example in examples:
        by_task.setdefault(example.task, []).append(example)
    kept: list[Example] = []
    for name in sorted(by_task):
        rows = by_task[name]
        if len(rows) > limit:
            rows = random.Random(f"{seed}:{name}").sample(rows, limit)
        kept.extend(rows)
    return kept


def _file_digest(paths: Sequence[Path]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.read_bytes())
    return digest.hexdigest()


def build_foundation(
    folder: str | Path,
    out_root: str | Path,
    *,
    heldout_percent: int = DEFAULT_HELDOUT_PERCENT,
    max_per_task: int | None = DEFAULT_MAX_PER_TASK,
    cap: int = DEFAULT_CAP,
    seed: int = 0,
) -> Foundation:
    """Convert FOLDER, split, subsample and write <out_root>/<sha256>/ (kept if it exists).
    ValueError when no task with labelled training examples is found."""
    tasks, examples, sources = discover(folder)
    train, heldout = split(tasks, examples, heldout_percent)
    train = _cap_per_task(train, max_per_task, seed)
    heldout = _cap_per_task(heldout, max_per_task, seed + 1)
    train_counts = dict(sorted(Counter(e.task for e in train).items()))
    if not train_counts:
        raise ValueError(
            f"foundation data folder {folder}: no task with labelled examples "
            f"(looked at: {', '.join(sorted(sources)) or 'nothing'})"
        )
    out_root = Path(out_root)
    out_root.mkdir(parents=True, exist_ok=True)
    staging = Path(os.path.join(out_root, f".building-{os.getpid()}"))
    staging.mkdir(exist_ok=True)
    used = {name: tasks[name] for name in sorted(tasks) if name in train_counts}
    write_jsonl(staging / TRAIN_FILE, used.values(), train)
    write_jsonl(staging / HELDOUT_FILE, used.values(), [e for e in heldout if e.task in used])
    sha = _file_digest([staging / TRAIN_FILE, staging / HELDOUT_FILE])
    foundation = Foundation(
        directory=out_root / sha,
        sha256=sha,
        tasks=used,
        weights=mixture_weights(train_counts, cap),
        train_counts=train_counts,
        heldout_counts=dict(sorted(Counter(e.task for e in heldout if e.task in used).items())),
        sources={"folder": str(Path(folder).absolute()), **sources},
    )
    manifest = json.dumps(foundation.manifest(), indent=2, sort_keys=True)
    (staging / MANIFEST_FILE).write_text(manifest)
    if foundation.directory.exists():
        for path in staging.iterdir():
            path.unlink()
        staging.rmdir()
    else:
        os.replace(staging, foundation.directory)
    return foundation


def load_foundation(directory: str | Path) -> Foundation:
    """A built foundation directory; ValueError naming the file when it is not one."""
    directory = Path(directory)
    manifest_path = directory / MANIFEST_FILE
    if not manifest_path.is_file():
        raise ValueError(f"{manifest_path}: no foundation manifest (build it first)")
    manifest = json.loads(manifest_path.read_text())
    return Foundation(
        directory=directory,
        sha256=manifest["sha256"],
        tasks={name: Task.from_dict(data) for name, data in manifest["tasks"].items()},
        weights={k: float(v) for k, v in manifest["weights"].items()},
        train_counts=manifest["train_counts"],
        heldout_counts=manifest["heldout_counts"],
        sources=manifest["sources"],
    )


def combine_weights(
    foundation_weights: Mapping[str, float],
    project_counts: Mapping[str, int],
    project_share: float,
    *,
    project_weights: Mapping[str, float] | None = None,
    cap: int = DEFAULT_CAP,
) -> dict[str, float]:
    """Sampling weights of a project's retrain: the project's tasks share `project_share`
    (examples-proportional with the cap, or `project_weights` renormalised), the foundation's
    tasks the rest in their own proportions. A task in both gets both shares. With no project
    data or no foundation, the other side gets everything."""
    if not 0 <= project_share <= 1:
        raise ValueError(f"project share {project_share} must be between 0 and 1")
    project = (
        mixture_weights(project_counts, cap, project_weights)
        if any(n > 0 for n in project_counts.values())
        else {}
    )
    foundation = {k: v for k, v in foundation_weights.items() if v > 0}
    if not project:
        share = 0.0
    elif not foundation:
        share = 1.0
    else:
        share = project_share
    combined: dict[str, float] = {}
    for name, weight in foundation.items():
        combined[name] = combined.get(name, 0.0) + (1 - share) * weight
    for name, weight in project.items():
        combined[name] = combined.get(name, 0.0) + share * weight
    combined = {k: v for k, v in combined.items() if v > 0}
    total = sum(combined.values())
    if total <= 0:
        raise ValueError("the mixture is empty: neither the foundation nor the project has data")
    return {k: v / total for k, v in sorted(combined.items())}
