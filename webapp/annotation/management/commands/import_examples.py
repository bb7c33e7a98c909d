from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from judging.task_format import FormatError
from webapp.annotation.transfer import examples_import, project_get_or_create


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
            type=int,
            default=0,
            help="hold this share of items out of training, split by content",
        )

    def handle(self, *args, **options):
        project = project_get_or_create(name=options["project"])
        try:
            result = examples_import(
                project=project, path=options["path"], heldout_percent=options["heldout_percent"]
            )
        except (FormatError, ValidationError, OSError) as error:
            message = "; ".join(error.messages) if isinstance(error, ValidationError) else error
            raise CommandError(f"nothing imported: {message}") from error
        self.stdout.write(
            f"project {project.slug!r}: {result.created} new items, {result.skipped} already "
            f"present; per task: {dict(result.per_task)}"
        )
