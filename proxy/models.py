"""Providers, the models clients ask for, and the deployments that serve them."""

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.utils import timezone

from proxy import crypto
from proxy.translate.providers import KINDS


def validate_kind(value: str) -> None:
    """A kind is valid when an adapter serves it: adding one needs no migration."""
    if value not in KINDS:
        raise ValidationError(f"Unknown provider kind {value!r}; use one of {', '.join(KINDS)}.")


def kind_choices() -> list[tuple[str, str]]:
    return [(kind, adapter.label) for kind, adapter in KINDS.items()]


class Provider(models.Model):
    """An upstream server and its key: the platform's (organization None, from the routes
    file) or an organization's own (BYOK, proxy.byok), served only to that organization."""

    name = models.SlugField(max_length=100)
    organization = models.ForeignKey(
        "accounts.Organization",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="own_providers",
    )
    kind = models.CharField(max_length=20, validators=[validate_kind])
    base_url = models.URLField(max_length=500)
    api_key_encrypted = models.TextField(blank=True, editable=False)
    timeout_s = models.FloatField(default=600.0, validators=[MinValueValidator(0.1)])
    is_active = models.BooleanField(default=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["name"],
                condition=models.Q(organization__isnull=True),
                name="provider_platform_name_unique",
            ),
            models.UniqueConstraint(
                fields=["organization", "name"], name="provider_org_name_unique"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def api_key(self) -> str:
        return crypto.decrypt(self.api_key_encrypted)

    @api_key.setter
    def api_key(self, value: str) -> None:
        self.api_key_encrypted = crypto.encrypt(value)


def default_modalities() -> list[str]:
    return ["text"]


class ModelRoute(models.Model):
    """A model name clients send, its price, and (through deployments) who serves it.

    Prices are integer micro-USD per million tokens, so a request's cost in pico-USD is
    exactly tokens × price (see accounts.money)."""

    name = models.CharField(max_length=200)
    # None: a platform model (the routes file), served to every organization. Otherwise
    # the organization's own (proxy.byok), served to it alone, over its own providers or
    # the platform's.
    organization = models.ForeignKey(
        "accounts.Organization",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="own_models",
    )
    input_price = models.BigIntegerField(default=0, validators=[MinValueValidator(0)])
    output_price = models.BigIntegerField(default=0, validators=[MinValueValidator(0)])
    # None: cached input tokens cost the input price.
    cached_input_price = models.BigIntegerField(
        null=True, blank=True, validators=[MinValueValidator(0)]
    )
    # None: tokens written to a prompt cache (Anthropic's cache_creation) cost the input price.
    cache_write_price = models.BigIntegerField(
        null=True, blank=True, validators=[MinValueValidator(0)]
    )
    # Across shapes, drop what a translation cannot carry (named in x-jinf-dropped)
    # instead of refusing the request with a 400.
    drop_unsupported = models.BooleanField(default=False)
    # The catalogue (proxy.table.Catalogue, /v1/models): None means not declared.
    context_window = models.PositiveIntegerField(null=True, blank=True)
    max_output_tokens = models.PositiveIntegerField(null=True, blank=True)
    input_modalities = models.JSONField(default=default_modalities)
    supports_tools = models.BooleanField(default=True)
    supports_json_schema = models.BooleanField(default=True)
    # An automatic model (proxy.auto): the routes file's validated `auto:` mapping; it has
    # no deployments and is priced as the candidate chosen for each call. None: a normal model.
    auto = models.JSONField(null=True, blank=True)
    is_active = models.BooleanField(default=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "model"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(input_price__gte=0, output_price__gte=0),
                name="modelroute_prices_not_negative",
            ),
            models.UniqueConstraint(
                fields=["name"],
                condition=models.Q(organization__isnull=True),
                name="modelroute_platform_name_unique",
            ),
            models.UniqueConstraint(
                fields=["organization", "name"], name="modelroute_org_name_unique"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Deployment(models.Model):
    model_route = models.ForeignKey(
        ModelRoute, on_delete=models.CASCADE, related_name="deployments"
    )
    provider = models.ForeignKey(Provider, on_delete=models.CASCADE, related_name="deployments")
    upstream_model = models.CharField(max_length=200)
    priority = models.IntegerField(default=0)
    weight = models.PositiveIntegerField(default=1, validators=[MinValueValidator(1)])

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["model_route", "provider", "upstream_model"], name="deployment_unique"
            )
        ]
        ordering = ["priority", "id"]

    def __str__(self) -> str:
        return f"{self.model_route} → {self.provider}/{self.upstream_model}"
