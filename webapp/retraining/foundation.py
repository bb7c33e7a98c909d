"""The foundation in the app: build and register the mixture of EMBER_FOUNDATION_DATA, train its
autorater (a training run of the foundation project, registered like any version), and plan a
project's retrain on top of it: where training starts (the live version, else the base the
admin picked, keeping that checkpoint's tokenizer), which mixture it trains on (the
foundation's tasks and the project's, the project's share from its settings) and what the gate
checks for forgetting (the foundation's held-out tasks).

Django side only; the mixture itself is training/foundation.py (no Django, no JAX at import).
"""

from __future__ import annotations

import dataclasses
import hashlib
import random
from pathlib import Path

from django.conf import settings
from django.db import transaction

from webapp.annotation.models import Project
from webapp.audit.services import Via, audit_record
from webapp.autoraters.models import AutoraterVersion
from webapp.autoraters.selectors import version_promoted_for
from webapp.retraining.models import Foundation, TrainingRun, TrainingSettings

FOUNDATION_SLUG = "foundation"
FOUNDATION_NAME = "Foundation: public human-judgment tasks"


def foundation_current() -> Foundation | None:
    """The newest built foundation (None: the deployment has none)."""
    return Foundation.objects.select_related("project").first()


def foundation_status_text() -> str:
    """What the autorater page says about the foundation (beside the base setting)."""
    foundation = foundation_current()
    if foundation is None:
        return (
            "No foundation: this deployment has no public task data (set EMBER_FOUNDATION_DATA "
            "and run manage.py ember_foundation), so with the foundation as base every retrain "
            "trains from scratch on this project's data."
        )
    live = version_promoted_for(foundation.project_id)
    trained = f"its live autorater is v{live.number}" if live else "no foundation autorater yet"
    return (
        f"Foundation {foundation.sha256[:12]}: {len(foundation.weights)} public tasks, "
        f"{sum(foundation.train_counts.values())} training examples; {trained}. Every retrain "
        "continues from the live version (else this base) with its tokenizer, on the "
        "foundation's tasks and the project's (the project's share below)."
    )


def foundation_of_project(project: Project) -> Foundation | None:
    """The foundation whose autorater this project trains (None for a team's project)."""
    return Foundation.objects.filter(project=project).first()


def foundation_project() -> Project:
    project, _ = Project.objects.get_or_create(
        slug=FOUNDATION_SLUG,
        defaults={
            "name": FOUNDATION_NAME,
            "description": "The foundation autorater, trained on the public human-judgment "
            "tasks of EMBER_FOUNDATION_DATA; teams' autoraters start from it.",
            "heldout_percent": 0,
        },
    )
    return project


def foundation_build(
    *, folder: str | Path | None = None, actor=None, via: Via | None = None
) -> Foundation:
    """Convert and register the foundation mixture of FOLDER (default EMBER_FOUNDATION_DATA).
    The same data gives the same row. ValueError when no folder is configured or it holds no
    task. Audited as "foundation.build"."""
    from training.foundation import build_foundation

    folder = folder or settings.EMBER_FOUNDATION_DATA
    if not folder:
        raise ValueError(
            "no foundation data folder: set EMBER_FOUNDATION_DATA (e.g. ../shared/data)"
        )
    built = build_foundation(
        folder,
        settings.ARTIFACT_ROOT / "foundations",
        heldout_percent=settings.EMBER_FOUNDATION_HELDOUT_PERCENT,
        max_per_task=settings.EMBER_FOUNDATION_MAX_PER_TASK,
    )
    with transaction.atomic():
        found, created = Foundation.objects.get_or_create(
            sha256=built.sha256,
            defaults={
                "directory": str(built.directory),
                "data_folder": str(Path(folder).absolute()),
                "project": foundation_project(),
                "weights": built.weights,
                "train_counts": built.train_counts,
                "heldout_counts": built.heldout_counts,
                "sources": built.sources,
            },
        )
        if not created:  # the most recently built row is the current foundation
            found.save(update_fields=["updated_at"])
        audit_record(
            action="foundation.build",
            actor=actor,
            via=via,
            obj=found,
            summary={"sha256": built.sha256, "tasks": built.train_counts, "created": created},
        )
    return found


def foundation_loaded(foundation: Foundation):
    from training.foundation import load_foundation

    return load_foundation(foundation.directory)


def foundation_heldout(foundation: Foundation, limit: int | None = None) -> list:
    """The foundation's held-out examples (a seeded subsample of `limit` at most)."""
    from judging.task_format import read_jsonl

    _, examples = read_jsonl(Path(foundation.directory) / "heldout.jsonl")
    if limit and len(examples) > limit:
        examples = random.Random(foundation.sha256).sample(examples, limit)
    return examples


# Labels the foundation's own tokenizer makes single tokens beside its tasks' labels, so the
# projects that continue from it (with its tokenizer, which cannot grow) can use them too.
RESERVED_LABELS = (
    *("A", "B", "tie", "yes", "no", "Yes", "No", "true", "false", "good", "bad"),
    *(str(n) for n in range(11)),
    *("positive", "negative", "neutral", "correct", "incorrect", "consistent", "inconsistent"),
)


def foundation_tokenizer(tasks, examples, vocab_size: int):
    """The foundation autorater's tokenizer: the corpus BPE (training.loop.data) with every
    task label and RESERVED_LABELS one token each."""
    from judging.task_format import render_example
    from judging.tokenizer import format_constant_lines, train_tokenizer

    texts = (render_example(tasks[e.task], e) for e in examples if e.task in tasks)
    labels = {label for task in tasks.values() for label in task.labels} | set(RESERVED_LABELS)
    return train_tokenizer(
        texts,
        vocab_size,
        labels=sorted(labels),
        constant_lines=format_constant_lines(tasks.values()),
    )


# --- a project's retrain on top of the foundation -------------------------------------------


@dataclasses.dataclass(frozen=True)
class Start:
    """Where a run starts: a checkpoint (its weights and tokenizer) or nothing (from scratch)."""

    checkpoint: str = ""
    kind: str = "scratch"  # live | foundation | version | path | scratch
    version: AutoraterVersion | None = None

    def lineage(self) -> dict:
        found = {"kind": self.kind, "checkpoint": self.checkpoint}
        if self.version is not None:
            found.update(version=self.version.number, project=self.version.project.slug)
        if self.checkpoint:
            found["tokenizer_sha256"] = tokenizer_sha256(self.checkpoint)
        return found


def tokenizer_sha256(checkpoint_dir: str | Path) -> str:
    """The hash of a checkpoint's tokenizer file ("" when it has none, e.g. an adapter)."""
    from judging.checkpoint import TOKENIZER_FILE

    path = Path(checkpoint_dir) / TOKENIZER_FILE
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else ""


def uses_foundation(project: Project, project_settings: TrainingSettings) -> Foundation | None:
    """The foundation a project's run mixes in: its own for the foundation project, the current
    one for a team's project unless it trains from scratch."""
    own = foundation_of_project(project)
    if own is not None:
        return own
    if project_settings.base == TrainingSettings.Base.SCRATCH:
        return None
    return foundation_current()


START_LABELS = (
    "Task {task!r}: label{s} {labels} {are} not one token of the tokenizer this retrain keeps "
    "(its start: {start}). A retrain continues from its start with that tokenizer, so a task's "
    "labels must be ones it scores as one token (it does score: {known}). Rename the labels "
    "(the rubric's page), or set the base to 'From scratch' on the autorater page."
)


def start_labels_check(start: Start, tasks) -> None:
    """Before training: ValueError saying what to do when the start's Ember tokenizer cannot
    score a task's labels as one token (a pretrained tokenizer trains labels spelled whole)."""
    if not start.checkpoint:
        return
    from judging.checkpoint import TOKENIZER_FILE, read_tokenizer
    from judging.tokenizer import JudgeTokenizer

    path = Path(start.checkpoint) / TOKENIZER_FILE
    if not path.exists():
        return
    tokenizer = read_tokenizer(path)
    if type(tokenizer) is not JudgeTokenizer:
        return
    for task in tasks:
        missing = [label for label in task.labels if not tokenizer.has_single_token(label)]
        if missing:
            known = [label for label in RESERVED_LABELS if tokenizer.has_single_token(label)]
            where = start.kind + (f" v{start.version.number}" if start.version else "")
            raise ValueError(
                START_LABELS.format(
                    task=task.name,
                    s="s" if len(missing) > 1 else "",
                    labels=", ".join(repr(label) for label in missing),
                    are="are" if len(missing) > 1 else "is",
                    start=f"{where}, {start.checkpoint}",
                    known=", ".join(known) or "none of the usual labels",
                )
            )


def _version_start(version: AutoraterVersion | None, kind: str) -> Start | None:
    if version is not None and Path(version.checkpoint_dir).is_dir():
        return Start(checkpoint=version.checkpoint_dir, kind=kind, version=version)
    return None


def run_start(project: Project, project_settings: TrainingSettings) -> Start:
    """The live version, else the base the admin picked; from scratch when the settings say so,
    when the base is the foundation and the deployment has none, or no base exists yet.
    ValueError naming the setting when a picked base is missing."""
    if project_settings.base == TrainingSettings.Base.SCRATCH:
        return Start()
    if project_settings.base == TrainingSettings.Base.FOUNDATION and foundation_current() is None:
        return Start()  # no foundation in this deployment: from scratch, as before
    live = _version_start(version_promoted_for(project.pk), "live")
    if live is not None:
        return live
    base = project_settings.base
    if base == TrainingSettings.Base.VERSION:
        found = _version_start(project_settings.base_version, "version")
        if found is None:
            raise ValueError("training settings: base version is not set or its checkpoint is gone")
        return found
    if base == TrainingSettings.Base.PATH:
        path = Path(project_settings.base_path)
        if not project_settings.base_path or not path.is_dir():
            raise ValueError(f"training settings: base path {str(path)!r} is not a directory")
        return Start(checkpoint=str(path), kind="path")
    foundation = foundation_current()
    if foundation is None or foundation.project_id == project.pk:
        return Start()
    return _version_start(version_promoted_for(foundation.project_id), "foundation") or Start()


def run_weights(
    project_settings: TrainingSettings,
    foundation: Foundation | None,
    per_task: dict[str, int],
    project_task_names: set[str],
    project_weights: dict[str, float] | None = None,
) -> dict[str, float] | None:
    """The run's sampling weights when a foundation is mixed in (None: the old rule, the
    project's own weights or examples-proportional)."""
    from training.foundation import combine_weights

    if foundation is None:
        return None
    counts = {name: n for name, n in per_task.items() if name in project_task_names}
    return combine_weights(
        foundation.weights,
        counts,
        project_settings.project_share,
        project_weights=project_weights or project_settings.mixture_weights or None,
    )


def mixture_lineage(
    weights: dict[str, float], foundation: Foundation | None, project_task_names: set[str]
) -> dict:
    """Which tasks came from where, with their weights in this run's mixture."""
    if foundation is None:
        return {"foundation": None, "project_tasks": dict(weights)}
    return {
        "foundation": {
            "sha256": foundation.sha256,
            "tasks": {n: w for n, w in weights.items() if n in foundation.weights},
        },
        "project_tasks": {n: w for n, w in weights.items() if n in project_task_names},
    }


def foundation_train_request(*, actor=None, via: Via | None = None, **kwargs) -> TrainingRun:
    """Queue a training run of the current foundation's autorater."""
    from webapp.retraining.services import training_run_request

    foundation = foundation_current()
    if foundation is None:
        raise ValueError("no foundation built yet (manage.py ember_foundation --build)")
    return training_run_request(
        project=foundation.project,
        trigger=TrainingRun.Trigger.MANUAL,
        actor=actor,
        via=via,
        **kwargs,
    )
