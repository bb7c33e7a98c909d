"""Per-project roles: the plain `raters` many-to-many becomes the Membership model on the same
table (its rows kept, as raters) with a role column. Existing global groups carry over to the
existing projects: a member of the "analyst" group becomes an analyst of every project, a member
of the "admin" group an admin of every project (a rater who was also an analyst keeps the
higher role). New access is per project only."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

RANK = {"rater": 1, "analyst": 2, "admin": 3}


def groups_to_roles(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Project = apps.get_model("annotation", "Project")
    Membership = apps.get_model("annotation", "Membership")
    projects = list(Project.objects.values_list("pk", flat=True))
    for role in ("analyst", "admin"):
        group = Group.objects.filter(name=role).first()
        if group is None:
            continue
        for user_id in group.user_set.values_list("pk", flat=True):
            for project_id in projects:
                membership, created = Membership.objects.get_or_create(
                    project_id=project_id, user_id=user_id, defaults={"role": role}
                )
                if not created and RANK[membership.role] < RANK[role]:
                    membership.role = role
                    membership.save(update_fields=["role"])


class Migration(migrations.Migration):
    dependencies = [
        ("annotation", "0008_project_settings_and_task_versions"),
        ("auth", "0012_alter_user_first_name_max_length"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="Membership",
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
                        (
                            "project",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="memberships",
                                to="annotation.project",
                            ),
                        ),
                        (
                            "user",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="memberships",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                    ],
                    options={
                        "db_table": "annotation_project_raters",
                        "unique_together": {("project", "user")},
                    },
                ),
                migrations.AlterField(
                    model_name="project",
                    name="raters",
                    field=models.ManyToManyField(
                        related_name="rater_projects",
                        through="annotation.Membership",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            database_operations=[],
        ),
        migrations.AddField(
            model_name="membership",
            name="role",
            field=models.CharField(
                choices=[("rater", "Rater"), ("analyst", "Analyst"), ("admin", "Admin")],
                default="rater",
                max_length=10,
            ),
        ),
        migrations.RunPython(groups_to_roles, migrations.RunPython.noop),
    ]
