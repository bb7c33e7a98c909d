"""Compact aggregates of a project's labels and verdicts, recomputed in SQL by `rollup`.

Dashboards read these small tables (thousands of rows at a million labels) instead of the
label tables. Every row belongs to one project and is replaced as a whole when the project's
rollup is recomputed. "category" is the item's provenance["category"], else the RewardBench
category of provenance["subset"] (evaluation.report.category_of), else "".
"""

from django.conf import settings
from django.db import models
from django.db.models import F

USER = settings.AUTH_USER_MODEL


class Rollup(models.Model):
    """When a project's aggregates were computed, and the newest label and verdict they saw."""

    project = models.OneToOneField(
        "annotation.Project", on_delete=models.CASCADE, related_name="insights_rollup"
    )
    computed_at = models.DateTimeField()
    seconds = models.FloatField(default=0.0)
    last_annotation_id = models.BigIntegerField(default=0)
    last_judgment_id = models.BigIntegerField(default=0)
    n_labels = models.PositiveIntegerField(default=0)
    # {"median_seconds": {annotator_id: seconds}}
    extra = models.JSONField(default=dict)

    def __str__(self) -> str:
        return f"rollup of project {self.project_id} at {self.computed_at}"


class _Cell(models.Model):
    project = models.ForeignKey("annotation.Project", on_delete=models.CASCADE, related_name="+")
    task = models.ForeignKey(
        "annotation.TaskDefinition", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    category = models.CharField(max_length=200, blank=True)
    n = models.PositiveIntegerField()

    class Meta:
        abstract = True


class ItemSummary(models.Model):
    """One item: its current human labels (value -> count) and its reference label (the gold
    label, else the strict majority of the human labels, else "")."""

    project = models.ForeignKey("annotation.Project", on_delete=models.CASCADE, related_name="+")
    item = models.OneToOneField(
        "annotation.Item", on_delete=models.CASCADE, related_name="insights_summary"
    )
    task = models.ForeignKey(
        "annotation.TaskDefinition", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    category = models.CharField(max_length=200, blank=True)
    split = models.CharField(max_length=10)
    is_gold = models.BooleanField(default=False)
    n_labels = models.PositiveIntegerField()
    pattern = models.JSONField(default=dict)
    reference = models.TextField(blank=True)
    human_split = models.BooleanField(default=False)
    len_a = models.PositiveIntegerField(null=True)
    len_b = models.PositiveIntegerField(null=True)

    class Meta:
        indexes = [models.Index(fields=["project", "split"], name="insights_item_split")]

    def __str__(self) -> str:
        return f"item {self.item_id}: {self.pattern}"


class HumanModelCell(_Cell):
    """Current human labels against a version's verdict on the same item ("" = invalid)."""

    annotator = models.ForeignKey(USER, on_delete=models.CASCADE, related_name="+", db_index=False)
    version = models.ForeignKey(
        "autoraters.AutoraterVersion", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    human_label = models.TextField()
    model_label = models.TextField()

    def __str__(self) -> str:
        return f"{type(self).__name__} {self.pk}: n={self.n}"


class HumanPairCell(_Cell):
    """Every ordered pair of two raters' current labels on the same item; `first`: the
    annotator labelled before the peer (so first=True rows count each pair once)."""

    annotator = models.ForeignKey(USER, on_delete=models.CASCADE, related_name="+", db_index=False)
    first = models.BooleanField()
    own_label = models.TextField()
    peer_label = models.TextField()

    def __str__(self) -> str:
        return f"{type(self).__name__} {self.pk}: n={self.n}"


class PatternCell(_Cell):
    """How many items had exactly this value-count pattern of human labels."""

    pattern = models.JSONField()

    def __str__(self) -> str:
        return f"{type(self).__name__} {self.pk}: n={self.n}"


class VerdictCell(_Cell):
    """A version's verdicts: calibration bin, the item's reference label, the pick in each order
    (null: invalid or not judged that way) and which response is longer ("A", "B", "=")."""

    version = models.ForeignKey(
        "autoraters.AutoraterVersion", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    split = models.CharField(max_length=10)
    conf_bin = models.SmallIntegerField(null=True)
    reference = models.TextField(blank=True)
    model_label = models.TextField(blank=True)
    two_orders = models.BooleanField(default=False)
    # null (no pick: invalid verdict or one order only) differs from any label, "" included.
    ab_pick = models.TextField(null=True)  # noqa: DJ001
    ba_pick = models.TextField(null=True)  # noqa: DJ001
    longer = models.CharField(max_length=1)
    confidence_sum = models.FloatField(default=0.0)

    def __str__(self) -> str:
        return f"{type(self).__name__} {self.pk}: n={self.n}"


class TrendCell(_Cell):
    """Per day of the (later) human label: pairs compared and how many agreed. version null:
    human pairs; else human labels against that version."""

    version = models.ForeignKey(
        "autoraters.AutoraterVersion",
        null=True,
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,
    )
    day = models.DateField()
    agree = models.PositiveIntegerField()

    def __str__(self) -> str:
        return f"{type(self).__name__} {self.pk}: n={self.n}"


class RaterCell(_Cell):
    annotator = models.ForeignKey(USER, on_delete=models.CASCADE, related_name="+", db_index=False)
    gold_n = models.PositiveIntegerField()
    gold_right = models.PositiveIntegerField()
    seconds_sum = models.FloatField()
    seconds_n = models.PositiveIntegerField()

    def __str__(self) -> str:
        return f"{type(self).__name__} {self.pk}: n={self.n}"


class HeldoutJudgment(models.Model):
    """A version's verdict on a held-out item with the item's reference label (the version
    comparison pairs two versions' rows through the item)."""

    project = models.ForeignKey("annotation.Project", on_delete=models.CASCADE, related_name="+")
    item = models.ForeignKey(
        "annotation.Item", on_delete=models.CASCADE, related_name="insights_heldout"
    )
    version = models.ForeignKey(
        "autoraters.AutoraterVersion", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    task = models.ForeignKey(
        "annotation.TaskDefinition", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    category = models.CharField(max_length=200, blank=True)
    label = models.TextField(blank=True)
    valid = models.BooleanField()
    confidence = models.FloatField(null=True)
    reference = models.TextField(blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["project", "version", "item"], name="insights_heldout_version"),
            models.Index(fields=["item", "version"], name="insights_heldout_item"),
        ]

    def __str__(self) -> str:
        return f"item {self.item_id} by version {self.version_id}"


class VersionPairCell(_Cell):
    """Two versions' verdicts on the same held-out item (every ordered pair, a version with
    itself included): the item's reference label, each verdict ("" = invalid) and validity."""

    version_a = models.ForeignKey(
        "autoraters.AutoraterVersion", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    version_b = models.ForeignKey(
        "autoraters.AutoraterVersion", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    reference = models.TextField(blank=True)
    label_a = models.TextField(blank=True)
    label_b = models.TextField(blank=True)
    valid_a = models.BooleanField()
    valid_b = models.BooleanField()

    class Meta:
        indexes = [
            models.Index(fields=["project", "version_a", "version_b"], name="insights_vpair")
        ]

    def __str__(self) -> str:
        return f"{type(self).__name__} {self.pk}: n={self.n}"


class VersionDiffRow(models.Model):
    """A held-out item where two versions' verdicts differ, stored once per pair (version_lo
    has the smaller id); `top_confidence` (the larger confidence) orders the pages."""

    project = models.ForeignKey("annotation.Project", on_delete=models.CASCADE, related_name="+")
    item = models.ForeignKey("annotation.Item", on_delete=models.CASCADE, related_name="+")
    version_lo = models.ForeignKey(
        "autoraters.AutoraterVersion", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    version_hi = models.ForeignKey(
        "autoraters.AutoraterVersion", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    task = models.ForeignKey(
        "annotation.TaskDefinition", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    category = models.CharField(max_length=200, blank=True)
    reference = models.TextField(blank=True)
    label_lo = models.TextField(blank=True)
    confidence_lo = models.FloatField(null=True)
    label_hi = models.TextField(blank=True)
    confidence_hi = models.FloatField(null=True)
    top_confidence = models.FloatField(null=True)

    class Meta:
        indexes = [
            models.Index(
                F("project"),
                F("version_lo"),
                F("version_hi"),
                F("top_confidence").desc(nulls_last=True),
                F("item"),
                name="insights_vdiff_order",
            )
        ]

    def __str__(self) -> str:
        return f"item {self.item_id}: v{self.version_lo_id} vs v{self.version_hi_id}"


class DisagreementRow(models.Model):
    """An item where a version's verdict differs from a human label, or (version null) the
    humans differ among themselves."""

    project = models.ForeignKey("annotation.Project", on_delete=models.CASCADE, related_name="+")
    item = models.ForeignKey("annotation.Item", on_delete=models.CASCADE, related_name="+")
    version = models.ForeignKey(
        "autoraters.AutoraterVersion",
        null=True,
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,
    )
    task = models.ForeignKey(
        "annotation.TaskDefinition", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    category = models.CharField(max_length=200, blank=True)
    model_label = models.TextField(blank=True)
    confidence = models.FloatField(null=True)
    n_labels = models.PositiveIntegerField()
    n_disagree = models.PositiveIntegerField()
    human_split = models.BooleanField()
    pattern = models.JSONField(default=dict)
    reference = models.TextField(blank=True)

    class Meta:
        indexes = [
            models.Index(
                F("project"),
                F("version"),
                F("confidence").desc(nulls_last=True),
                F("id"),
                name="insights_disagree_order",
            )
        ]

    def __str__(self) -> str:
        return f"item {self.item_id} vs version {self.version_id}"
