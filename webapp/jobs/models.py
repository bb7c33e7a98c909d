"""Training runs: a state machine moved under a row lock (queued -> running -> done)."""

from django.conf import settings
from django.db import models

from webapp.common.models import TimeStampedModel


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

    ACTIVE = (Status.QUEUED, Status.RUNNING)

    project = models.ForeignKey(
        "annotation.Project", on_delete=models.CASCADE, related_name="training_runs"
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED)
    trigger = models.CharField(max_length=20, choices=Trigger.choices)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    preset = models.CharField(max_length=40)
    config = models.JSONField(default=dict)
    step = models.PositiveIntegerField(default=0)
    total_steps = models.PositiveIntegerField(default=0)
    loss_history = models.JSONField(default=list)
    snapshot_path = models.CharField(max_length=500, blank=True)
    snapshot_hash = models.CharField(max_length=64, blank=True)
    snapshot_examples = models.PositiveIntegerField(default=0)
    # Every human label with an id up to this one is in the snapshot.
    labels_cutoff_id = models.BigIntegerField(default=0)
    phase = models.CharField(max_length=40, blank=True)
    error = models.TextField(blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

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
