import argparse

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from judging.task_format import FormatError
from webapp.annotation.transfer import (
    DEFAULT_HELDOUT_PERCENT,
    examples_import,
    project_get_or_create,
)


def _percent(value: str) -> int:
    if not value.isdigit() or int(value) > 100:
        raise argparse.ArgumentTypeError(f"{value!r} is not an integer from 0 to 100")
    return int(value)


class Command(BaseCommand):
    help = (
        "Import interchange JSONL into a project (created if missing). All or nothing: a bad "
        "line rejects the file. Items already in the project are skipped."
    )

    def add_arguments(self, parser):
        parser.add_argument("path")
        parser.add_argument("--project", required=True, help="project name or slug")
        parser.add_argument(
            "--heldout-percent",
            type=_percent,
            default=DEFAULT_HELDOUT_PERCENT,
            help=(
                "hold this share of items out of training, split by content (default "
                f"{DEFAULT_HELDOUT_PERCENT}); the promotion gate compares autorater versions on "
                "their labels, so 0 leaves it nothing to compare on"
            ),
        )
        parser.add_argument(
            "--gold",
            action="store_true",
            help=(
                "these examples are gold: their labels are the known answers (every example "
                "must have a label); rater accuracy is measured on them"
            ),
        )

    def handle(self, *args, **options):
        project = project_get_or_create(name=options["project"])
        try:
            result = examples_import(
                project=project,
                path=options["path"],
                heldout_percent=options["heldout_percent"],
                gold=options["gold"],
            )
        except (FormatError, ValidationError, OSError) as error:
            message = "; ".join(error.messages) if isinstance(error, ValidationError) else error
            raise CommandError(f"nothing imported: {message}") from error
        if result.warning:
            self.stderr.write(f"warning: {result.warning}")
        self.stdout.write(
            f"project {project.slug!r}: {result.created} new items, {result.skipped} already "
            f"present; per task: {dict(result.per_task)}"
        )
