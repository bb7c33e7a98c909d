from django.core.management.base import BaseCommand

from webapp.annotation.demo import demo_project_ensure


class Command(BaseCommand):
    help = (
        "Create the demo project (known-answer pairwise tasks, and a few pointwise, "
        "classification and open-ended items to show every rater screen) and, optionally, "
        "its first autorater."
    )

    def add_arguments(self, parser):
        parser.add_argument("--items-per-task", type=int, default=150)
        parser.add_argument(
            "--no-showcase",
            action="store_true",
            help="Only the known-answer pairwise tasks (no pointwise/classification/open-ended).",
        )
        parser.add_argument(
            "--bootstrap-autorater",
            action="store_true",
            help="Queue a first training run when the project has no autorater yet.",
        )

    def handle(self, *args, **options):
        project = demo_project_ensure(
            n_per_task=options["items_per_task"], showcase=not options["no_showcase"]
        )
        self.stdout.write(f"demo project {project.slug!r}: {project.items.count()} items")
        if options["bootstrap_autorater"]:
            from webapp.retraining.services import training_run_bootstrap

            run = training_run_bootstrap(project=project)
            if run is not None:
                self.stdout.write(f"queued first autorater training: run {run.pk}")
