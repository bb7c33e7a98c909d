from django.urls import path

from webapp.insights import views

urlpatterns = [
    path("p/<slug:slug>/insights/", views.dashboard, name="insights-dashboard"),
    path(
        "p/<slug:slug>/insights/disagreements/",
        views.disagreements,
        name="insights-disagreements",
    ),
    path("p/<slug:slug>/insights/items/<int:item_id>/", views.item, name="insights-item"),
    path("p/<slug:slug>/insights/versions/", views.versions, name="insights-versions"),
    path("p/<slug:slug>/insights/raters/", views.raters, name="insights-raters"),
    path("p/<slug:slug>/insights/refresh/", views.refresh, name="insights-refresh"),
]
