from django.apps import AppConfig


class InsightsConfig(AppConfig):
    name = "webapp.insights"
    label = "insights"
