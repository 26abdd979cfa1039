from rest_framework import serializers

from billing.money import micros_to_usd


class MicrosAsUSDField(serializers.DecimalField):
    """Integer micro-USD shown as a decimal string of USD, e.g. 50_000 -> "0.050000"."""

    def __init__(self, **kwargs) -> None:
        super().__init__(max_digits=20, decimal_places=6, read_only=True, **kwargs)

    def to_representation(self, value: int) -> str:
        return super().to_representation(micros_to_usd(value))
