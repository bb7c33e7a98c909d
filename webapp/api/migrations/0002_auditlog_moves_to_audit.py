"""AuditLog moves to the audit app (webapp.audit). Only Django's model state changes: the table
api_auditlog stays, with its rows, and audit.AuditLog uses it."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("api", "0001_tokens_audit_judge_jobs"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="AuditLog")],
            database_operations=[],
        ),
    ]
