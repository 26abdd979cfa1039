"""Money is an integer number of pico-USD (10⁻¹² USD) everywhere; these convert at the edges.

Why pico: prices are at most 6 decimals of USD per million tokens, i.e. integer micro-USD
per million tokens, so one token costs exactly that integer in pico-USD and a request's
cost is tokens × price with no rounding at all. A signed 64-bit integer holds ±9.2
million USD per value, far above any one balance, budget or invoice line.

It lives in accounts, the lowest layer, because every app keeps money: a key's budget as
much as the ledger.
"""

from decimal import Decimal, InvalidOperation

PICO_PER_USD = 10**12
_CENT = Decimal("0.01")
# The largest amount any one budget, cap, threshold or grant may name: well inside a
# signed 64-bit pico-USD value, so sums of a few of them cannot overflow either.
MAX_USD = Decimal(1_000_000)
MAX_PICO = int(MAX_USD) * PICO_PER_USD


def usd_to_pico(value: str | int | Decimal) -> int:
    """'0.05' -> 50_000_000_000. ValueError for anything that is not an exact amount."""
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation as exc:
        raise ValueError(f"{value!r} is not an amount of USD") from exc
    if not amount.is_finite():
        raise ValueError(f"{value!r} is not an amount of USD")
    if abs(amount) > MAX_USD:
        raise ValueError(f"{value!r} is more than the USD {MAX_USD:,} any one amount may be")
    pico = amount * PICO_PER_USD
    if pico != pico.to_integral_value():
        raise ValueError(f"{value!r} has more decimals than the 12 money is kept in")
    return int(pico)


def pico_to_usd(pico: int) -> Decimal:
    """Exact USD, with at least two decimals: 12_500_000_000_000 -> Decimal('12.50')."""
    usd = Decimal(pico).scaleb(-12)
    if usd == usd.quantize(_CENT):
        return usd.quantize(_CENT)
    return usd.normalize()


def usd_text(pico: int) -> str:
    """Exact USD as plain text, never in exponent form: '0.000001234', '12.50'."""
    return format(pico_to_usd(pico), "f")


def format_usd(pico: int) -> str:
    """For people: '$1,234.50', '-$0.05', '$0.000012' (sub-cent amounts to 6 decimals)."""
    usd = round(Decimal(pico).scaleb(-12), 6)
    text = f"{abs(usd):,.6f}".rstrip("0")
    whole, _, frac = text.partition(".")
    return f"{'-' if usd < 0 else ''}${whole}.{frac.ljust(2, '0')}"
