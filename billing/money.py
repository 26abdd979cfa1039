"""Money is integer micro-USD everywhere; these convert at the edges."""

from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

MICROS_PER_USD = 1_000_000


def usd_to_micros(value: str | int | Decimal) -> int:
    """'0.05' -> 50_000. Raises ValueError for anything that is not a finite amount."""
    try:
        amount = Decimal(str(value))
    except InvalidOperation as exc:
        raise ValueError(f"{value!r} is not an amount of USD") from exc
    if not amount.is_finite():
        raise ValueError(f"{value!r} is not an amount of USD")
    micros = (amount * MICROS_PER_USD).quantize(Decimal(1), rounding=ROUND_HALF_EVEN)
    return int(micros)


def micros_to_usd(micros: int) -> Decimal:
    return (Decimal(micros) / MICROS_PER_USD).quantize(Decimal("0.000001"))


def format_usd(micros: int) -> str:
    """50_000 -> '$0.05'; keeps sub-cent precision only when there is some."""
    usd = micros_to_usd(micros)
    text = f"{usd:,.6f}".rstrip("0")
    whole, _, frac = text.partition(".")
    frac = frac.ljust(2, "0")
    sign = "-" if usd < 0 else ""
    return f"{sign}${whole.lstrip('-')}.{frac}"
