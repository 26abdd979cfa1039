from django import template

from billing.money import format_usd

register = template.Library()


@register.filter
def usd(micros: int | None) -> str:
    """Integer micro-USD as dollars: 50_000 -> '$0.05'."""
    return "" if micros is None else format_usd(micros)
