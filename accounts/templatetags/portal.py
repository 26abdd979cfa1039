from django import template

from accounts.money import format_usd

register = template.Library()


@register.filter
def usd(pico: int | None) -> str:
    """Integer pico-USD as dollars for people: 5 * 10**10 -> "$0.05"."""
    return "" if pico is None else format_usd(pico)
