from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from webapp.annotation import data_views, project_views, upload_views
from webapp.annotation import views as annotation_views
from webapp.annotation.auth_views import RateLimitedLoginView
from webapp.api.api import api
from webapp.autoraters import views as autorater_views
from webapp.retraining import views as retraining_views

urlpatterns = [
    path("", annotation_views.home, name="home"),
    path("login/", RateLimitedLoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("p/<slug:slug>/queue/", annotation_views.queue, name="queue"),
    path(
        "p/<slug:slug>/items/<int:item_id>/label/",
        annotation_views.submit_label,
        name="submit-label",
    ),
    path("p/<slug:slug>/items/<int:item_id>/", annotation_views.item_edit, name="item-edit"),
    path("p/<slug:slug>/items/<int:item_id>/skip/", annotation_views.skip_item, name="skip-item"),
    path(
        "p/<slug:slug>/items/<int:item_id>/tag/",
        annotation_views.tag_disagreement,
        name="tag-disagreement",
    ),
    path("p/<slug:slug>/adjudicate/", annotation_views.adjudication, name="adjudication"),
    path(
        "p/<slug:slug>/adjudicate/<int:item_id>/",
        annotation_views.adjudicate_item,
        name="adjudicate-item",
    ),
    path(
        "p/<slug:slug>/adjudicate/<int:item_id>/gold/",
        annotation_views.item_gold,
        name="item-gold",
    ),
    path(
        "p/<slug:slug>/items/<int:item_id>/autorater/",
        annotation_views.autorater_verdict,
        name="autorater-verdict",
    ),
    path("projects/new/", project_views.project_new, name="project-new"),
    path("p/<slug:slug>/settings/", project_views.project_settings, name="project-settings"),
    path("p/<slug:slug>/rubrics/new/", project_views.rubric_new, name="rubric-new"),
    path("p/<slug:slug>/rubrics/preview/", project_views.rubric_preview, name="rubric-preview"),
    path("p/<slug:slug>/rubrics/<int:task_id>/", project_views.rubric_edit, name="rubric-edit"),
    path("p/<slug:slug>/upload/", upload_views.upload_start, name="upload"),
    path("p/<slug:slug>/upload/<str:token>/", upload_views.upload_map, name="upload-map"),
    path(
        "p/<slug:slug>/upload/<str:token>/progress/",
        upload_views.upload_progress,
        name="upload-progress",
    ),
    path("p/<slug:slug>/data/", data_views.data_page, name="data"),
    path("p/<slug:slug>/data/import/", data_views.data_import, name="data-import"),
    path("p/<slug:slug>/data/export/<str:fmt>/", data_views.data_export, name="data-export"),
    path("p/<slug:slug>/autorater/", retraining_views.autorater_page, name="autorater"),
    path("p/<slug:slug>/retrain/", retraining_views.retrain, name="retrain"),
    path("runs/<int:run_id>/progress/", retraining_views.run_progress, name="run-progress"),
    path("runs/<int:run_id>/cancel/", retraining_views.run_cancel, name="run-cancel"),
    path(
        "p/<slug:slug>/training-settings/",
        retraining_views.training_settings_view,
        name="training-settings",
    ),
    path(
        "p/<slug:slug>/rollback/", retraining_views.version_rollback_view, name="version-rollback"
    ),
    path(
        "versions/<int:version_id>/promote/",
        retraining_views.version_promote_view,
        name="version-promote",
    ),
    path(
        "versions/<int:version_id>/report/", autorater_views.version_report, name="version-report"
    ),
    path(
        "versions/<int:version_id>/report/<str:name>",
        autorater_views.version_report_picture,
        name="version-report-picture",
    ),
    path("", include("webapp.insights.urls")),
    path("", include("webapp.annotation.people_urls")),
    path("", include("webapp.annotation.browse_urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    path("", include("webapp.api.urls")),
]
