from django.apps import AppConfig


class AutoratersConfig(AppConfig):
    name = "webapp.autoraters"
    label = "autoraters"
