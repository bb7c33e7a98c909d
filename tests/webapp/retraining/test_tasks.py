"""The retraining tasks keep their names, queues and beat entries (the package was
webapp.jobs; messages already queued and the beat schedule name tasks, not modules)."""

from django.conf import settings

from webapp.config.celery import app
from webapp.retraining import tasks

QUEUES = {
    tasks.training_run_execute_task: ("ember.train.execute_run", "train"),
    tasks.tailpatch_probe_task: ("ember.train.tailpatch_probe", "train"),
    tasks.host_join_task: ("ember.train.join_run", "train"),
    tasks.fold_and_retrain_check_task: ("ember.default.fold_and_retrain_check", "default"),
    tasks.jobs_recover_task: ("ember.default.recover_jobs", "default"),
}


def test_tasks_keep_their_names_and_queues():
    for task, (name, queue) in QUEUES.items():
        assert task.name == name and app.tasks[name].run.__module__ == tasks.__name__
        assert app.amqp.router.route({}, name)["queue"].name == queue


def test_beat_schedule_names_registered_tasks():
    app.loader.import_default_modules()
    for entry in settings.CELERY_BEAT_SCHEDULE.values():
        assert entry["task"] in app.tasks
