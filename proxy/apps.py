from django.apps import AppConfig


def served_model_names() -> list[str]:
    """The active routes that a deployment of an active provider serves (what proxy.table
    loads), for accounts.model_catalog."""
    from proxy.models import ModelRoute

    return list(
        ModelRoute.objects.filter(is_active=True, deployments__provider__is_active=True)
        .values_list("name", flat=True)
        .distinct()
    )


class ProxyConfig(AppConfig):
    name = "proxy"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from accounts import model_catalog

        model_catalog.set_provider(served_model_names)
