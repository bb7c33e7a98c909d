from django.contrib import admin

from webapp.annotation.models import Annotation, Item, Membership, Project, TaskDefinition
from webapp.annotation.services import project_save


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ("user",)


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "raters_per_item", "routing")
    list_filter = ("routing",)
    inlines = (MembershipInline,)

    def save_model(self, request, obj, form, change) -> None:
        project_save(project=obj)  # a new raters_per_item reopens or closes items


@admin.register(TaskDefinition)
class TaskDefinitionAdmin(admin.ModelAdmin):
    list_display = ("name", "project", "type")


@admin.register(Item)
class ItemAdmin(admin.ModelAdmin):
    list_display = ("external_id", "project", "task", "split", "gold_label")
    list_filter = ("project", "split", "task")
    readonly_fields = ("flame_prompt",)


@admin.register(Annotation)
class AnnotationAdmin(admin.ModelAdmin):
    list_display = ("item", "annotator", "label", "created_at")
    list_filter = ("item__project",)
