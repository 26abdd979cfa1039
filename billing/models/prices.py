"""Model prices with the date they take effect (Langfuse's model prices with a start date).

A request is priced, once, by the price in force when it was made; its record keeps that
cost, so a later price never rewrites past usage."""

from django.db import models
from django.utils import timezone


class ModelPrice(models.Model):
    """The price of the model `model` (the name clients send) from `effective_from` on,
    until the next row of that model. Prices are integer micro-USD per million tokens, so
    one token at price p costs p pico-USD (accounts.money)."""

    model = models.CharField(max_length=200)
    effective_from = models.DateTimeField()
    input_price = models.BigIntegerField(default=0)
    output_price = models.BigIntegerField(default=0)
    # None: cache reads cost the input price.
    cached_input_price = models.BigIntegerField(null=True, blank=True)
    # None: cache writes cost 1.25 × the input price (Anthropic's 5-minute cache write).
    cache_write_price = models.BigIntegerField(null=True, blank=True)
    note = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["model", "effective_from"]
        constraints = [
            models.UniqueConstraint(fields=["model", "effective_from"], name="model_price_unique"),
            models.CheckConstraint(
                condition=models.Q(input_price__gte=0, output_price__gte=0)
                & (models.Q(cached_input_price__isnull=True) | models.Q(cached_input_price__gte=0))
                & (models.Q(cache_write_price__isnull=True) | models.Q(cache_write_price__gte=0)),
                name="model_price_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.model} from {self.effective_from:%Y-%m-%d %H:%M}"
