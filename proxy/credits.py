"""Has the organization credit left? A cached read; the debit happens with the usage write.

A balance is trusted for PROXY_BALANCE_TTL_S, so a burst of requests can overdraw by at
most what they cost within that window.
"""

from django.conf import settings

from accounts.models import Organization
from proxy.loading_cache import LoadingCache


def _load(organization_id: int) -> int:
    return (
        Organization.objects.filter(pk=organization_id)
        .values_list("credit_balance_pico", flat=True)
        .first()
        or 0
    )


_balances: LoadingCache[int, int] = LoadingCache(_load, ttl=lambda: settings.PROXY_BALANCE_TTL_S)


async def balance_pico(organization_id: int) -> int:
    return await _balances.get(organization_id)


def forget() -> None:
    _balances.clear()
