""" "recipe" -> "variant" on a version's lineage: the column (values unchanged) and the key in
its config (the run's lineage JSON), so old and new versions read the same."""

from django.db import migrations


def _rename_config_key(apps, old: str, new: str) -> None:
    versions = apps.get_model("autoraters", "AutoraterVersion")
    for version in versions.objects.filter(config__has_key=old).only("pk", "config"):
        config = dict(version.config)
        config[new] = config.pop(old)
        versions.objects.filter(pk=version.pk).update(config=config)


def forwards(apps, schema_editor) -> None:
    _rename_config_key(apps, "recipe", "variant")


def backwards(apps, schema_editor) -> None:
    _rename_config_key(apps, "variant", "recipe")


class Migration(migrations.Migration):
    dependencies = [
        ("autoraters", "0004_version_recipe_mixture_gate"),
    ]

    operations = [
        migrations.RenameField(
            model_name="autoraterversion", old_name="recipe", new_name="variant"
        ),
        migrations.RunPython(forwards, backwards),
    ]
