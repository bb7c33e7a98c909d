"""Training runs: a state machine moved under a row lock (queued -> running -> done), the
per-project training settings (variant, mixture weights, promotion gate, Self-Taught rounds
and samples) and tail-patch probes.

"Variant" is the training algorithm (FLAMe, FLAMe-RM, FLAMe-Opt-RM, Self-Taught); "recipe" means
only the public-data pipeline in training/recipes/."""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from webapp.common.models import TimeStampedModel


class Variant(models.TextChoices):
    """The training algorithm of a run."""

    # FLAMe: multitask training on the mixture (built-in tasks + the project's human labels).
    FLAME = "flame", "FLAMe"
    # FLAMe-RM: the live version (or a fresh FLAMe run) fine-tuned on the balanced RM mixture.
    RM = "rm", "FLAMe-RM"
    # FLAMe-Opt-RM: tail-patch probes per task set the mixture weights, then FLAMe training.
    OPT_RM = "opt-rm", "FLAMe-Opt-RM"
    # Self-Taught: from the live version, the loop that writes its own pairs from the project's
    # instructions (training/variants/self_taught_loop.py); its rounds go into the report.
    SELF_TAUGHT = "self-taught", "Self-Taught (writes its own pairs)"


# The bounds of the Self-Taught settings (each round and each sample is a pass of generation).
SELF_TAUGHT_MAX_ROUNDS = 10
SELF_TAUGHT_MAX_SAMPLES = 32


class TrainingSettings(TimeStampedModel):
    """How a project's autorater is trained and when a new version may replace the live one."""

    project = models.OneToOneField(
        "annotation.Project", on_delete=models.CASCADE, related_name="training_settings"
    )
    variant = models.CharField(max_length=20, choices=Variant.choices, default=Variant.FLAME)
    # Task name -> sampling weight (renormalised); empty: examples-proportional with a cap.
    mixture_weights = models.JSONField(default=dict, blank=True)
    # TrainConfig fields overriding the preset for this project's runs, e.g. {"steps": 500}.
    config_overrides = models.JSONField(default=dict, blank=True)
    # Gate: a candidate may lose at most this much held-out accuracy to the live version,
    # beyond the paired bootstrap noise of the difference ...
    gate_agreement_tolerance = models.FloatField(default=0.0)
    # ... and its position bias (JudgeLM total bias) may grow by at most this much ...
    gate_bias_tolerance = models.FloatField(default=0.05)
    # ... and (no forgetting) its accuracy on the foundation's held-out tasks may fall below
    # the live version's (or the base's) by at most this much beyond the paired bootstrap noise.
    gate_foundation_tolerance = models.FloatField(default=0.02)

    class Base(models.TextChoices):
        """What the project's first version starts from; later ones continue from the live one."""

        FOUNDATION = "foundation", "The foundation autorater"
        VERSION = "version", "Another autorater version"
        PATH = "path", "A local checkpoint (by path)"
        # A new model and tokenizer every retrain, on the project's data alone.
        SCRATCH = "scratch", "From scratch (every retrain)"

    base = models.CharField(max_length=20, choices=Base.choices, default=Base.FOUNDATION)
    base_version = models.ForeignKey(
        "autoraters.AutoraterVersion",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    base_path = models.CharField(max_length=500, blank=True)
    # The project's tasks' share of the training mixture (the foundation's tasks get the rest).
    project_share = models.FloatField(
        default=0.5, help_text="The project's share of the training mixture, 0-1."
    )
    # Self-Taught only (the other variants ignore them): the loop's rounds and the judgments
    # it samples per written pair (training/variants/self_taught_loop.py).
    self_taught_rounds = models.PositiveSmallIntegerField(
        "Self-Taught rounds",
        default=1,
        validators=[
            MinValueValidator(1, "At least 1 round."),
            MaxValueValidator(SELF_TAUGHT_MAX_ROUNDS, "At most %(limit_value)s rounds."),
        ],
        help_text="Self-Taught variant only: rounds of writing pairs, judging them and "
        f"retraining, 1-{SELF_TAUGHT_MAX_ROUNDS}.",
    )
    self_taught_samples = models.PositiveSmallIntegerField(
        "Self-Taught samples",
        default=4,
        validators=[
            MinValueValidator(1, "At least 1 judgment per pair."),
            MaxValueValidator(
                SELF_TAUGHT_MAX_SAMPLES, "At most %(limit_value)s judgments per pair."
            ),
        ],
        help_text="Self-Taught variant only: judgments sampled per written pair (a pair is kept "
        f"when one is right), 1-{SELF_TAUGHT_MAX_SAMPLES}.",
    )

    def __str__(self) -> str:
        return f"training settings of {self.project_id}"


class TrainingRun(TimeStampedModel):
    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        CANCELLED = "cancelled"

    class Trigger(models.TextChoices):
        MANUAL = "manual"
        SCHEDULE = "schedule"
        BOOTSTRAP = "bootstrap"

    class Phase(models.TextChoices):
        """Where a running run is, in order ("" while queued). The labels are the values."""

        SNAPSHOT = "snapshot", "snapshot"
        # FLAMe-RM / FLAMe-Opt-RM without a live version: a FLAMe model trained first.
        TRAINING_BASE = "training base", "training base"
        # FLAMe-Opt-RM: the per-task probes, fanned out as a Celery group.
        TAILPATCH_PROBES = "tail-patch probes", "tail-patch probes"
        TRAINING = "training", "training"
        EVALUATING = "evaluating", "evaluating"
        REGISTERING = "registering", "registering"
        REPORT = "report", "report"
        PROMOTING = "promoting", "promoting"
        DONE = "done", "done"
        CANCELLED = "cancelled", "cancelled"

    ACTIVE = (Status.QUEUED, Status.RUNNING)

    project = models.ForeignKey(
        "annotation.Project", on_delete=models.CASCADE, related_name="training_runs"
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED)
    trigger = models.CharField(max_length=20, choices=Trigger.choices)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    variant = models.CharField(max_length=20, choices=Variant.choices, default=Variant.FLAME)
    preset = models.CharField(max_length=40)
    # Requested TrainConfig overrides (on top of the preset and the project's overrides).
    config_overrides = models.JSONField(default=dict, blank=True)
    config = models.JSONField(default=dict)
    # The sampling weights the run trained with (lineage).
    mixture_weights = models.JSONField(default=dict, blank=True)
    step = models.PositiveIntegerField(default=0)
    total_steps = models.PositiveIntegerField(default=0)
    loss_history = models.JSONField(default=list)
    # Live progress: training steps per second over the last interval, seconds left.
    steps_per_second = models.FloatField(null=True, blank=True)
    eta_seconds = models.FloatField(null=True, blank=True)
    # Evaluation on the held-out human labels, and the gate's decision (shown while it runs).
    metrics = models.JSONField(default=dict, blank=True)
    gate = models.JSONField(default=dict, blank=True)
    snapshot_path = models.CharField(max_length=500, blank=True)
    snapshot_hash = models.CharField(max_length=64, blank=True)
    snapshot_examples = models.PositiveIntegerField(default=0)
    # Every human label with an id up to this one is in the snapshot.
    labels_cutoff_id = models.BigIntegerField(default=0)
    phase = models.CharField(max_length=40, blank=True, choices=Phase.choices)
    error = models.TextField(blank=True)
    # Reliability: who holds the run (a lease renewed by a heartbeat), how often it started.
    cancel_requested = models.BooleanField(default=False)
    attempts = models.PositiveIntegerField(default=0)
    retries = models.PositiveIntegerField(default=0)
    lease_token = models.CharField(max_length=64, blank=True)
    worker = models.CharField(max_length=200, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    enqueued_at = models.DateTimeField(null=True, blank=True)
    # Where the periodic training state lives (resume after a crash), and the step resumed at.
    state_dir = models.CharField(max_length=500, blank=True)
    resumed_from_step = models.PositiveIntegerField(default=0)
    # FLAMe-RM / FLAMe-Opt-RM: the checkpoint fine-tuned or tail-patch probed from.
    base_checkpoint = models.CharField(max_length=500, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Multi-host training (retraining/hosts.py): how many hosts train the run (EMBER_TRAIN_HOSTS
    # when it was requested), and its current attempt: the coordinator's address and who joined
    # ([{"process", "worker", "joined_at"}], process 0 first).
    hosts = models.PositiveSmallIntegerField(default=1)
    host_attempt = models.CharField(max_length=32, blank=True)
    host_coordinator = models.CharField(max_length=200, blank=True)
    host_joins = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["project"],
                condition=models.Q(status__in=["queued", "running"]),
                name="one_active_run_per_project",
            )
        ]

    def __str__(self) -> str:
        return f"run {self.pk} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE

    @property
    def last_loss(self) -> float | None:
        return self.loss_history[-1][1] if self.loss_history else None


class Foundation(TimeStampedModel):
    """A built foundation mixture (training/foundation.py): the public human-judgment tasks of
    EMBER_FOUNDATION_DATA, content-hashed. Its autorater versions live in `project` (the
    foundation project), trained like any project's; the newest row is the current foundation."""

    sha256 = models.CharField(max_length=64, unique=True)
    directory = models.CharField(max_length=500)
    data_folder = models.CharField(max_length=500)
    project = models.ForeignKey(
        "annotation.Project", on_delete=models.CASCADE, related_name="foundations"
    )
    weights = models.JSONField(default=dict)
    train_counts = models.JSONField(default=dict)
    heldout_counts = models.JSONField(default=dict)
    sources = models.JSONField(default=dict)

    class Meta:
        ordering = ["-updated_at", "-id"]

    def __str__(self) -> str:
        return f"foundation {self.sha256[:12]}"


class TailPatchProbe(TimeStampedModel):
    """One task's tail-patch probe in a FLAMe-Opt-RM run (fanned out as a Celery group)."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        DONE = "done"
        FAILED = "failed"

    run = models.ForeignKey(TrainingRun, on_delete=models.CASCADE, related_name="probes")
    task_name = models.CharField(max_length=200)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED)
    result = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["task_name"]
        constraints = [
            models.UniqueConstraint(fields=["run", "task_name"], name="one_probe_per_run_task")
        ]
