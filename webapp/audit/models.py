"""The audit log: who changed what, when, and through what (a page, the API, the system)."""

from django.conf import settings
from django.db import models


class AuditLog(models.Model):
    """One row per change, written by the service that makes it, in the same transaction.

    `user` is empty for changes the system makes itself (the beat's retrain check, the gate's
    promotion, a command); `token` is set when the change came through the API."""

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    username = models.CharField(max_length=150)
    token = models.ForeignKey("api.ApiToken", null=True, blank=True, on_delete=models.SET_NULL)
    action = models.CharField(max_length=60, db_index=True)
    object_type = models.CharField(max_length=60)
    object_id = models.CharField(max_length=100, blank=True)
    summary = models.JSONField(default=dict)
    address = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        # The model moved here from the api app: its table keeps its name (and its rows).
        db_table = "api_auditlog"
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.username} {self.action} {self.object_id}"
