""" "recipe" -> "variant" (the training algorithm; stored values unchanged) and the run's phase
as choices (the same strings as before)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("jobs", "0002_run_reliability_recipes_gate"),
    ]

    operations = [
        migrations.RenameField(
            model_name="trainingsettings", old_name="recipe", new_name="variant"
        ),
        migrations.RenameField(model_name="trainingrun", old_name="recipe", new_name="variant"),
        migrations.AlterField(
            model_name="trainingrun",
            name="phase",
            field=models.CharField(
                blank=True,
                choices=[
                    ("snapshot", "snapshot"),
                    ("training base", "training base"),
                    ("tail-patch probes", "tail-patch probes"),
                    ("training", "training"),
                    ("evaluating", "evaluating"),
                    ("registering", "registering"),
                    ("report", "report"),
                    ("promoting", "promoting"),
                    ("done", "done"),
                    ("cancelled", "cancelled"),
                ],
                max_length=40,
            ),
        ),
    ]
