"""Has the organization credit left? A cached read; the debit happens with the usage write.

A balance is trusted for PROXY_BALANCE_TTL_S, so a burst of requests can overdraw by at
most what they cost within that window.
"""

import time

from channels.db import database_sync_to_async
from django.conf import settings

from accounts.models import Organization

_balances: dict[int, tuple[float, int]] = {}


def _load(organization_id: int) -> int:
    return (
        Organization.objects.filter(pk=organization_id)
        .values_list("credit_balance_pico", flat=True)
        .first()
        or 0
    )


async def balance_pico(organization_id: int) -> int:
    now = time.monotonic()
    hit = _balances.get(organization_id)
    if hit is not None and hit[0] > now:
        return hit[1]
    value = await database_sync_to_async(_load)(organization_id)
    _balances[organization_id] = (now + settings.PROXY_BALANCE_TTL_S, value)
    return value


def forget() -> None:
    _balances.clear()
