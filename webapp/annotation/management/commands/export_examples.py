from django.core.management.base import BaseCommand, CommandError

from webapp.annotation.models import Project
from webapp.annotation.transfer import EXPORTERS


class Command(BaseCommand):
    help = "Export a project's items: interchange JSONL, preference pairs (JSONL) or CSV."

    def add_arguments(self, parser):
        parser.add_argument("--project", required=True, help="project slug")
        parser.add_argument("--format", choices=sorted(EXPORTERS), default="jsonl")
        parser.add_argument("-o", "--output", required=True)

    def handle(self, *args, **options):
        project = Project.objects.filter(slug=options["project"]).first()
        if project is None:
            raise CommandError(f"no project with slug {options['project']!r}")
        written = EXPORTERS[options["format"]](project=project, path=options["output"])
        self.stdout.write(f"wrote {written} to {options['output']}")
