"""Autorater versions (with lineage and metrics) and their judgments of items."""

from django.db import models

from webapp.common.models import TimeStampedModel


class AutoraterVersion(TimeStampedModel):
    class Status(models.TextChoices):
        CANDIDATE = "candidate"
        PROMOTED = "promoted"
        RETIRED = "retired"
        # Was live and rolled back from: never a rollback target again (rollback walks back);
        # promoting it by hand puts it back in the normal history.
        ROLLED_BACK = "rolled_back", "Rolled back"

    project = models.ForeignKey(
        "annotation.Project", on_delete=models.CASCADE, related_name="autorater_versions"
    )
    number = models.PositiveIntegerField()
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.CANDIDATE)
    checkpoint_dir = models.CharField(max_length=500)
    # Lineage: what it was trained on and how.
    training_run = models.OneToOneField(
        "jobs.TrainingRun", null=True, on_delete=models.SET_NULL, related_name="version"
    )
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL)
    snapshot_hash = models.CharField(max_length=64)
    config = models.JSONField(default=dict)
    metrics = models.JSONField(default=dict)
    # The promoted version's metrics on the same held-out items, measured in the same run.
    incumbent_metrics = models.JSONField(default=dict, blank=True)
    promoted_at = models.DateTimeField(null=True, blank=True)
    # The evaluation report (report.json and its pictures) on the held-out items.
    report_dir = models.CharField(max_length=500, blank=True)
    # Lineage: the training variant (jobs.Variant) and the task sampling weights it was trained
    # with.
    variant = models.CharField(max_length=20, blank=True)
    mixture_weights = models.JSONField(default=dict, blank=True)
    # The promotion gate's decision against the live version: {"passed": bool, "checks": [...]}.
    gate = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-number"]
        constraints = [
            models.UniqueConstraint(fields=["project", "number"], name="unique_version_number"),
            models.UniqueConstraint(
                fields=["project"],
                condition=models.Q(status="promoted"),
                name="one_promoted_version_per_project",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.project.slug} v{self.number}"

    @property
    def heldout_accuracy(self) -> float | None:
        return self.metrics.get("accuracy")


class ModelJudgment(TimeStampedModel):
    item = models.ForeignKey(
        "annotation.Item", on_delete=models.CASCADE, related_name="model_judgments"
    )
    version = models.ForeignKey(
        AutoraterVersion, on_delete=models.CASCADE, related_name="judgments"
    )
    label = models.TextField(blank=True)
    confidence = models.FloatField(null=True)
    probabilities = models.JSONField(default=dict)
    order_probabilities = models.JSONField(default=dict)
    consistent = models.BooleanField(null=True)
    valid = models.BooleanField(default=True)
    format_version = models.CharField(max_length=40)
    # Generated after the verdict by a checkpoint trained to explain (untrusted model text:
    # shown through the Markdown filter, which escapes it); "" when none.
    explanation = models.TextField(blank=True, default="")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["item", "version"], name="unique_judgment_per_version")
        ]
