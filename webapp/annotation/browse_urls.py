"""The items browser of a project."""

from django.urls import path

from webapp.annotation import browse_views as views

urlpatterns = [
    path("p/<slug:slug>/browse/", views.items_page, name="items-browse"),
    path("p/<slug:slug>/browse/<int:item_id>/", views.item_page, name="item-browse"),
]
