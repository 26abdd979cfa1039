"""Filters of the dashboard's pages."""

from decimal import ROUND_HALF_UP, Decimal

from django import template

from accounts.money import usd_text

register = template.Library()


@register.filter
def usd_cents(pico: int | None) -> str:
    """Dollars and cents, rounded half up: 12_345_000_000_000 -> '$12.35'. The exact
    figure is `usd` (format_usd), shown on hover."""
    cents = (Decimal(pico or 0).scaleb(-12)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return f"{'-' if cents < 0 else ''}${abs(cents):,.2f}"


@register.filter
def usd_exact(pico: int | None) -> str:
    """Every decimal kept: '$0.049881234567'."""
    text = usd_text(pico or 0)
    return f"-${text[1:]}" if text.startswith("-") else f"${text}"


@register.filter
def percent(part: int, whole: int) -> str:
    """'2.5%' of part in whole, '0%' when whole is 0."""
    if not whole:
        return "0%"
    value = Decimal(part * 100) / Decimal(whole)
    text = f"{value:.1f}".rstrip("0").rstrip(".")
    return f"{text}%"


@register.filter
def count(value: int | None) -> str:
    """A count for people: 1234567 -> '1,234,567'."""
    return f"{value or 0:,}"
