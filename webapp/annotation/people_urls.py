"""The people pages of a project and the invitation link."""

from django.urls import path

from webapp.annotation import people_views as views

urlpatterns = [
    path("p/<slug:slug>/people/", views.people, name="people"),
    path("p/<slug:slug>/people/add/", views.member_add_view, name="member-add"),
    path("p/<slug:slug>/people/<int:user_id>/role/", views.member_role_view, name="member-role"),
    path(
        "p/<slug:slug>/people/<int:user_id>/remove/",
        views.member_remove_view,
        name="member-remove",
    ),
    path("p/<slug:slug>/people/invite/", views.invite_create_view, name="invite-create"),
    path(
        "p/<slug:slug>/people/invite/<int:invite_id>/revoke/",
        views.invite_revoke_view,
        name="invite-revoke",
    ),
    path("invite/<str:secret>/", views.invite_accept_view, name="invite-accept"),
]
