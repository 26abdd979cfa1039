from django.apps import AppConfig


class PlatformSiteConfig(AppConfig):
    """An installed app only so that Django finds the operator commands that compose the
    other apps (mintkey, seeddemo, setlimits): they need accounts, billing and proxy at
    once, which no lower app may import."""

    name = "platform_site"
    verbose_name = "jinf platform"
