from django.apps import AppConfig


class DashboardConfig(AppConfig):
    """The top layer: read models, usage pages, request log, live feed, playground.
    It reads billing's rollups and records; nothing imports it."""

    name = "dashboard"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from billing.usage_signals import usage_written
        from dashboard.live_publish import on_usage_written

        usage_written.connect(on_usage_written, dispatch_uid="dashboard.live_feed")
