"""TrainingSettings.foundation_share -> project_share: it holds the project's share."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("jobs", "0004_foundation_and_base"),
    ]

    operations = [
        migrations.RenameField(
            model_name="trainingsettings", old_name="foundation_share", new_name="project_share"
        ),
    ]
