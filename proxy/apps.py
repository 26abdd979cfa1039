from django.apps import AppConfig


def served_model_names(organization_id: int | None = None) -> list[str]:
    """The active routes that a deployment of an active provider serves, and the active
    automatic models (what proxy.table loads): the platform's, and the organization's own
    (proxy.own_models), for accounts.model_catalog."""
    from django.db.models import Q

    from proxy.models import ModelRoute

    whose = Q(organization__isnull=True)
    if organization_id is not None:
        whose |= Q(organization_id=organization_id)
    return list(
        ModelRoute.objects.filter(whose, is_active=True)
        .filter(Q(deployments__provider__is_active=True) | Q(auto__isnull=False))
        .values_list("name", flat=True)
        .distinct()
    )


class ProxyConfig(AppConfig):
    name = "proxy"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from accounts import model_catalog

        model_catalog.set_provider(served_model_names)
