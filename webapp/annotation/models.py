"""Projects, their rubric tasks, items to judge, claims and human labels."""

from django.conf import settings
from django.db import models

from webapp.common.models import TimeStampedModel


class Project(TimeStampedModel):
    class Routing(models.TextChoices):
        SEQUENTIAL = "sequential", "Sequential (in import order)"
        UNCERTAINTY_FIRST = "uncertainty_first", "Uncertainty first (where the autorater is unsure)"

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    # The project's members, each with a role (Membership): raters label, analysts also read
    # the project's data and insights, admins also change it. Superusers reach every project.
    raters = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="Membership", related_name="rater_projects"
    )
    raters_per_item = models.PositiveSmallIntegerField(default=1)
    # Blind-first by default: the autorater's verdict shows only after the rater submits.
    reveal_autorater_before_submit = models.BooleanField(default=False)
    # Generated known-answer training data mixed in with the project's labels ("" for none).
    builtin_mixture = models.CharField(max_length=40, blank=True)
    # The "fold and retrain" check starts a retrain after this many new human labels.
    retrain_min_new_labels = models.PositiveIntegerField(null=True, blank=True)
    # Which open item a rater is offered next: the first imported, or the one the live
    # autorater is least sure about (Item.route_priority, set when it judges the item).
    routing = models.CharField(max_length=20, choices=Routing.choices, default=Routing.SEQUENTIAL)
    # The share of imported items held out for evaluation, the import forms' default.
    heldout_percent = models.PositiveSmallIntegerField(default=20)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    """A user's role in one project. Each role includes the ones before it: a rater labels, an
    analyst also reads the project's data (adjudication, insights, reports, the API's data), an
    admin also changes the project (import, retraining, promotion, people).

    The table is the one the former plain `raters` many-to-many used (its rows kept, as raters)."""

    class Role(models.TextChoices):
        RATER = "rater", "Rater"
        ANALYST = "analyst", "Analyst"
        ADMIN = "admin", "Admin"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.RATER)

    class Meta:
        db_table = "annotation_project_raters"
        unique_together = [("project", "user")]

    def __str__(self) -> str:
        return f"{self.user} ({self.role}) in {self.project}"


ROLE_RANK = {Membership.Role.RATER: 1, Membership.Role.ANALYST: 2, Membership.Role.ADMIN: 3}


class Invite(models.Model):
    """A one-time link that lets a person set a password and join a project with a role. Only
    the secret's hash is stored; the link works once, before `expires_at`."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="invites")
    role = models.CharField(max_length=10, choices=Membership.Role.choices)
    token_hash = models.CharField(max_length=64, unique=True)
    note = models.CharField(max_length=200, blank=True)  # whom it is for, as the admin wrote
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"invite to {self.project} as {self.role}"


class TaskDefinition(TimeStampedModel):
    """A project's rubric: one FLAMe task (judging.task_format.Task)."""

    class Type(models.TextChoices):
        PAIRWISE = "pairwise"
        POINTWISE = "pointwise"
        CLASSIFICATION = "classification"
        OPEN_ENDED = "open_ended"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="tasks")
    name = models.CharField(max_length=200)
    type = models.CharField(max_length=20, choices=Type.choices)
    title = models.CharField(max_length=500)
    description = models.TextField()
    context_fields = models.JSONField()
    output_fields = models.JSONField()
    labels = models.JSONField(default=list)
    # Pointwise tasks on a real-valued scale: [low, high].
    scale = models.JSONField(null=True, blank=True)
    # Editing a rubric that already has labels makes a new version (a new row, named
    # "<name>-v<n>"); the old one is retired and its items keep pointing at it.
    version = models.PositiveSmallIntegerField(default=1)
    previous = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="next_versions"
    )
    retired = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="unique_task_name_per_project")
        ]

    def __str__(self) -> str:
        return self.name

    def as_task_dict(self) -> dict:
        return {
            "name": self.name,
            "type": self.type,
            "title": self.title,
            "description": self.description,
            "context_fields": list(self.context_fields),
            "output_fields": list(self.output_fields),
            "labels": list(self.labels),
            "scale": self.scale,
        }


class Item(TimeStampedModel):
    """One Example to judge, stored with its FLAMe rendering."""

    class Split(models.TextChoices):
        TRAIN = "train"
        HELDOUT = "heldout"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="items")
    task = models.ForeignKey(TaskDefinition, on_delete=models.CASCADE, related_name="items")
    external_id = models.TextField()
    context = models.JSONField()
    reference = models.TextField(blank=True)
    # The known answer, when there is one (known-answer tasks, gold items, adjudication).
    gold_label = models.TextField(blank=True)
    # Every source rater's label where the imported data had several (label -> count).
    label_distribution = models.JSONField(null=True, blank=True)
    split = models.CharField(max_length=10, choices=Split.choices, default=Split.TRAIN)
    # A gold item: its known answer measures rater accuracy (shown to raters after they label).
    is_gold = models.BooleanField(default=False)
    adjudicated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    adjudicated_at = models.DateTimeField(null=True, blank=True)
    flame_prompt = models.TextField(help_text="INSTRUCTIONS / CONTEXT / EVALUATION rendering")
    format_version = models.CharField(max_length=40)
    content_hash = models.CharField(max_length=64)
    provenance = models.JSONField(default=dict)
    # The claim queue, kept by annotation_submit in the labelling transaction: raters with a
    # current label, and whether that is still under the project's raters_per_item. Database
    # defaults too, so bulk SQL loads (INSERT ... SELECT, COPY) get a valid queue.
    label_count = models.PositiveIntegerField(default=0, db_default=0)
    is_open = models.BooleanField(default=True, db_default=True)
    # Uncertainty-first routing: how unsure the live autorater is (higher = offered sooner),
    # set when it judges the item (webapp.annotation.routing).
    route_priority = models.FloatField(default=0.0, db_default=0.0)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "content_hash"], name="unique_item_content_per_project"
            )
        ]
        indexes = [
            # Only items that still need labels: the claim query walks these in order.
            models.Index(
                fields=["project", "id"], condition=models.Q(is_open=True), name="item_open_queue"
            ),
            models.Index(
                fields=["project", "-route_priority", "id"],
                condition=models.Q(is_open=True),
                name="item_open_by_priority",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.project.slug}:{self.external_id}"


class Assignment(TimeStampedModel):
    """A rater's claim on an item; it expires so abandoned items return to the pool."""

    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="assignments")
    rater = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["item", "rater"], name="unique_claim_per_rater")
        ]


class Annotation(TimeStampedModel):
    """A human label. Stored in the request, never only in the broker, and never overwritten:
    an edit is a new revision (the previous one stays, no longer current)."""

    class DisagreementTag(models.TextChoices):
        AUTORATER_WRONG = "autorater_wrong", "The autorater is wrong"
        I_WAS_WRONG = "rater_wrong", "I was wrong"
        AMBIGUOUS = "ambiguous", "The item is ambiguous"
        GUIDELINES = "guidelines_unclear", "The guidelines are unclear"
        BAD_ITEM = "bad_item", "The item is broken"

    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="annotations")
    annotator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    label = models.TextField()
    revision = models.PositiveIntegerField(default=1)
    is_current = models.BooleanField(default=True)
    # Optional extras a rater may give with a pairwise verdict.
    confidence = models.PositiveSmallIntegerField(null=True, blank=True)
    reason = models.TextField(blank=True)
    disagreement_tag = models.CharField(max_length=40, choices=DisagreementTag.choices, blank=True)
    submission_key = models.CharField(max_length=64, unique=True)
    seconds_spent = models.FloatField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["item", "annotator", "revision"], name="unique_label_revision"
            ),
            models.UniqueConstraint(
                fields=["item", "annotator"],
                condition=models.Q(is_current=True),
                name="one_current_label_per_rater",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.annotator} -> {self.item}: {self.label} (rev {self.revision})"


class Skip(TimeStampedModel):
    """A rater passed on an item (and may have flagged it as a bad item)."""

    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="skips")
    rater = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    flagged = models.BooleanField(default=False)
    reason = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["item", "rater"], name="unique_skip_per_rater")
        ]
