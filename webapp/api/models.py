"""API tokens (stored hashed, with scopes) and judge jobs (the audit log is webapp.audit)."""

from django.conf import settings
from django.db import models

from webapp.common.models import TimeStampedModel


class ApiToken(TimeStampedModel):
    """A user's bearer token. Only a SHA-256 of the secret is kept; the secret is shown once.

    Scopes: read < write < admin (each includes the ones before). A token never grants more
    than its user's role allows: scopes narrow what the user may do, they never widen it.
    """

    class Scope(models.TextChoices):
        READ = "read"
        WRITE = "write"
        ADMIN = "admin"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100)
    # The public part of the token, used to find the row; the hash proves the secret.
    prefix = models.CharField(max_length=16, unique=True)
    token_hash = models.CharField(max_length=64)
    scopes = models.JSONField(default=list)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.user} / {self.name} ({self.prefix})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class JudgeJob(TimeStampedModel):
    """A judge request too large to answer in the request: queued to the judge workers."""

    project = models.ForeignKey("annotation.Project", on_delete=models.CASCADE, related_name="+")
    version = models.ForeignKey(
        "autoraters.AutoraterVersion", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    item_ids = models.JSONField(default=list)

    class Meta:
        ordering = ["-id"]
