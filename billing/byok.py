"""The platform's fee on a request served by an organization's own provider key (BYOK).

The record keeps the cost at the model's declared prices (`cost_pico`); what the
organization is charged for it is `fee_pico(cost_pico)`: BYOK_FEE_PERCENT of the cost,
per record, rounded half up, in integers (the setting is a Decimal with at most 4
decimals, read once as an integer numerator over 10^6).
"""

from functools import cache

from django.conf import settings

# The percent × 10^4, over 100 × 10^4.
DENOMINATOR = 1_000_000


@cache
def numerator() -> int:
    """BYOK_FEE_PERCENT × 10^4, exactly (the setting has at most 4 decimals)."""
    return int(settings.BYOK_FEE_PERCENT * 10_000)


def fee_pico(cost_pico: int) -> int:
    """The fee on a cost: cost × percent / 100, rounded half up; never above the cost."""
    if cost_pico <= 0:
        return 0
    return (cost_pico * numerator() * 2 + DENOMINATOR) // (2 * DENOMINATOR)


def charged_pico(cost_pico: int, *, byok: bool) -> int:
    """What the organization pays for a record: the fee when BYOK, else the cost."""
    return fee_pico(cost_pico) if byok else cost_pico
