from django.urls import path

from webapp.api import views

urlpatterns = [
    path("account/tokens/", views.tokens_page, name="api-tokens"),
    path("account/tokens/create/", views.token_create_view, name="api-token-create"),
    path("account/tokens/<int:token_id>/revoke/", views.token_revoke_view, name="api-token-revoke"),
]
