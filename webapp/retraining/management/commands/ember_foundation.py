"""manage.py ember_foundation: build the foundation mixture and train its autorater."""

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = (
        "Build the foundation (the public human-judgment tasks of EMBER_FOUNDATION_DATA or "
        "--data, content-hashed, with FLAMe's examples-proportional weights) and queue the "
        "training of its autorater on the train worker (--now: train in this process)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--data", help="Folder of sets (default: EMBER_FOUNDATION_DATA).")
        parser.add_argument("--no-train", action="store_true", help="Build and register only.")
        parser.add_argument("--now", action="store_true", help="Train here, not on a worker.")
        parser.add_argument(
            "--set",
            action="append",
            default=[],
            metavar="FIELD=VALUE",
            help="TrainConfig override for this run, e.g. --set steps=2000 (JSON values).",
        )

    def handle(self, *args, **options):
        import json

        from webapp.retraining.execution import training_run_execute
        from webapp.retraining.foundation import foundation_build, foundation_train_request

        try:
            foundation = foundation_build(folder=options["data"])
        except ValueError as error:
            raise CommandError(str(error)) from error
        tasks = ", ".join(f"{n} ({c})" for n, c in foundation.train_counts.items())
        self.stdout.write(f"foundation {foundation.sha256[:12]}: {tasks}")
        if options["no_train"]:
            return
        overrides = {}
        for item in options["set"]:
            name, _, value = item.partition("=")
            try:
                overrides[name] = json.loads(value)
            except json.JSONDecodeError:
                overrides[name] = value
        try:
            run = foundation_train_request(config_overrides=overrides)
        except ValueError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(f"foundation autorater: training run {run.pk} queued")
        if options["now"]:
            run = training_run_execute(run_id=run.pk) or run
            run.refresh_from_db()
            self.stdout.write(f"run {run.pk}: {run.status} {run.error[:500]}")
            if run.status != run.Status.SUCCEEDED:
                raise CommandError(f"run {run.pk} ended {run.status}")
