"""Key → (organization, limits, allowed models, plan), from a short-lived in-process cache.

A cold key costs two database reads (the key, its organization's plan); a hot one none
(proxy.loading_cache reloads it in the background). The TTL bounds how long a revoked key
keeps working in any process (the contract allows 2 s) while the database answers; while
it does not, a cached key is served up to PROXY_CACHE_STALE_S longer, and a key not in
the cache is answered 503.
"""

import ipaddress
from dataclasses import dataclass
from datetime import datetime

from django.db import DatabaseError
from django.utils import timezone

from accounts import keys
from accounts.models import APIKey
from billing.plans import BUILTIN, Terms, plan_in_force
from proxy.loading_cache import LoadingCache
from proxy.translate.errors import ProxyError, unauthorized

CACHE_TTL_S = 2.0
CACHE_MAX_ENTRIES = 100_000


@dataclass(frozen=True)
class KeyInfo:
    key_id: int
    organization_id: int
    prefix: str
    allowed_models: tuple[str, ...]
    rpm_limit: int | None
    tpm_limit: int | None
    budget_pico: int | None
    budget_period: str  # accounts.models.BudgetPeriod
    is_management: bool
    expires_at: datetime | None
    revoked_at: datetime | None
    paused_at: datetime | None = None
    allowed_ips: tuple = ()  # ipaddress networks; empty: anywhere
    # The organization's own caps, over all its keys (setlimits).
    org_rpm_limit: int | None = None
    org_tpm_limit: int | None = None
    org_monthly_cap_pico: int | None = None
    # The organization's plan in force when the key was loaded (billing.plans): whether
    # its usage is paid from credit, and whether it stops at the included usage.
    plan: Terms = BUILTIN
    # The organization stores prompts and answers (billing.bodies).
    log_bodies: bool = False
    # The key's price ceiling, micro-USD per million tokens (None: none).
    max_price_micros: int | None = None

    def is_active(self, now: datetime) -> bool:
        if self.revoked_at is not None and self.revoked_at <= now:
            return False
        return self.expires_at is None or self.expires_at > now


def _load(digest: str) -> KeyInfo | None:
    key = APIKey.objects.select_related("organization").filter(digest=digest).first()
    if key is None or not keys.digests_match(key.digest, digest):
        return None
    now = timezone.now()
    org = key.organization
    return KeyInfo(
        key_id=key.pk,
        organization_id=key.organization_id,
        prefix=key.prefix,
        allowed_models=tuple(key.allowed_models or ()),
        rpm_limit=key.rpm_limit,
        tpm_limit=key.tpm_limit,
        budget_pico=key.budget_pico,
        budget_period=key.budget_period,
        is_management=key.is_management,
        expires_at=key.expires_at,
        revoked_at=key.revoked_at,
        paused_at=key.paused_at,
        allowed_ips=networks(key.allowed_ips),
        org_rpm_limit=org.rpm_limit,
        org_tpm_limit=org.tpm_limit,
        org_monthly_cap_pico=org.monthly_cap_pico,
        plan=plan_in_force(organization_id=key.organization_id, at=now),
        log_bodies=org.log_bodies,
        max_price_micros=key.max_price_micros,
    )


def networks(cidrs) -> tuple:
    """The key's allowlist as networks; an entry that does not parse allows nothing."""
    out = []
    for cidr in cidrs or ():
        try:
            out.append(ipaddress.ip_network(str(cidr).strip(), strict=False))
        except ValueError:
            continue
    return tuple(out) if out or not cidrs else (ipaddress.ip_network("0.0.0.0/32"),)


# Misses are cached too (None): a flood of made-up keys costs one read each, and the
# cache is bounded so that it cannot grow forever.
_cache: LoadingCache[str, KeyInfo | None] = LoadingCache(
    _load, ttl=lambda: CACHE_TTL_S, max_entries=CACHE_MAX_ENTRIES
)


async def key_lookup(secret: str) -> KeyInfo | None:
    return await _cache.get(keys.digest(secret))


def bearer_secret(headers: dict[bytes, bytes], *, allow_x_api_key: bool = False) -> str | None:
    auth = headers.get(b"authorization", b"").decode("latin-1").strip()
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip() or None
    if allow_x_api_key:
        return headers.get(b"x-api-key", b"").decode("latin-1").strip() or None
    return None


async def authenticate(headers: dict[bytes, bytes], *, allow_x_api_key: bool = False) -> KeyInfo:
    secret = bearer_secret(headers, allow_x_api_key=allow_x_api_key)
    if secret is None:
        raise unauthorized(
            "No API key given. Send it as 'Authorization: Bearer jinf_…'; "
            "mint one in the portal under Keys."
        )
    try:
        info = await key_lookup(secret)
    except DatabaseError as exc:  # a key not in the cache, and the database not answering
        raise ProxyError(
            503,
            "The gateway cannot check this key right now; retry in a moment.",
            type="api_error",
            code="service_unavailable",
        ) from exc
    if info is None:
        raise unauthorized("Incorrect API key. Check it, or mint a new one in the portal.")
    if not info.is_active(timezone.now()):
        raise unauthorized("This API key has been revoked or has expired; mint a new one.")
    if info.paused_at is not None:
        raise ProxyError(
            403,
            "This key is paused after a spend spike. An admin can resume it in the portal "
            "under Keys.",
            type="permission_error",
            code="key_paused",
        )
    if info.is_management:
        raise ProxyError(
            401,
            "This is a management key: it calls /api/, not /v1. Use an ordinary API key.",
            type="authentication_error",
            code="management_key",
        )
    return info
