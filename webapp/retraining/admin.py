from django.contrib import admin

from webapp.retraining.models import TrainingRun


@admin.register(TrainingRun)
class TrainingRunAdmin(admin.ModelAdmin):
    list_display = ("pk", "project", "status", "trigger", "step", "total_steps", "created_at")
    list_filter = ("status", "project")
