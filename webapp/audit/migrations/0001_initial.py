"""AuditLog, moved here from the api app: the model state only (the table api_auditlog and its
rows stay as they are), and its content type follows it, keeping its permissions."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def _move_content_type(apps, schema_editor, source: str, target: str) -> None:
    content_types = apps.get_model("contenttypes", "ContentType")
    if not content_types.objects.filter(app_label=target, model="auditlog").exists():
        content_types.objects.filter(app_label=source, model="auditlog").update(app_label=target)


def forwards(apps, schema_editor) -> None:
    _move_content_type(apps, schema_editor, "api", "audit")


def backwards(apps, schema_editor) -> None:
    _move_content_type(apps, schema_editor, "audit", "api")


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("api", "0002_auditlog_moves_to_audit"),
        ("contenttypes", "0002_remove_content_type_name"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="AuditLog",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("at", models.DateTimeField(auto_now_add=True, db_index=True)),
                        ("username", models.CharField(max_length=150)),
                        ("action", models.CharField(db_index=True, max_length=60)),
                        ("object_type", models.CharField(max_length=60)),
                        ("object_id", models.CharField(blank=True, max_length=100)),
                        ("summary", models.JSONField(default=dict)),
                        ("address", models.GenericIPAddressField(blank=True, null=True)),
                        (
                            "token",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                to="api.apitoken",
                            ),
                        ),
                        (
                            "user",
                            models.ForeignKey(
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                    ],
                    options={"db_table": "api_auditlog", "ordering": ["-at", "-id"]},
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(forwards, backwards),
    ]
