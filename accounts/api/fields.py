from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.money import usd_text


@extend_schema_field(OpenApiTypes.DECIMAL)
class MicrosPerMillionAsUSDField(serializers.Field):
    """A price in integer micro-USD per million tokens shown as USD per million tokens,
    an exact decimal string: 150000 -> "0.15"."""

    def __init__(self, **kwargs) -> None:
        super().__init__(read_only=True, **kwargs)

    def to_representation(self, value: int) -> str:
        return usd_text(value * 10**6)


@extend_schema_field(OpenApiTypes.DECIMAL)
class PicoAsUSDField(serializers.Field):
    """Integer pico-USD shown as an exact decimal string of USD: 5 * 10**10 -> "0.05"."""

    def __init__(self, **kwargs) -> None:
        super().__init__(read_only=True, **kwargs)

    def to_representation(self, value: int) -> str:
        return usd_text(value)
