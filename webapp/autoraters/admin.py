from django.contrib import admin

from webapp.autoraters.models import AutoraterVersion, ModelJudgment


@admin.register(AutoraterVersion)
class AutoraterVersionAdmin(admin.ModelAdmin):
    list_display = ("project", "number", "status", "snapshot_hash", "created_at")
    list_filter = ("project", "status")


@admin.register(ModelJudgment)
class ModelJudgmentAdmin(admin.ModelAdmin):
    list_display = ("item", "version", "label", "confidence", "consistent")
