from django.apps import AppConfig


class DashboardConfig(AppConfig):
    """The top layer: read models, usage pages, request log, live feed, playground.
    It reads billing's rollups and records; nothing imports it."""

    name = "dashboard"
    default_auto_field = "django.db.models.BigAutoField"
