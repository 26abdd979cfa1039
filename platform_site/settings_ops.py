"""Settings of the operations endpoints (/healthz, /readyz, /metrics) and the logs.

Star-imported at the end of settings.py; only the names in __all__ are settings.
"""

from decimal import Decimal, InvalidOperation

import environ
from django.core.exceptions import ImproperlyConfigured

from platform_site.logs import logging_config

__all__ = [
    "BYOK_ALLOW_PRIVATE_URLS",
    "BYOK_FEE_PERCENT",
    "CELERY_WORKER_HIJACK_ROOT_LOGGER",
    "LOGGING",
    "LOG_FORMAT",
    "METRICS_ALLOW",
    "READY_TIMEOUT_S",
]

_env = environ.Env()

# CIDRs whose clients may read /metrics (platform_site.ops_metrics); empty: no one.
METRICS_ALLOW = _env.list("METRICS_ALLOW", default=["127.0.0.0/8", "::1/128"])
# Each /readyz check (database, Redis) answers within this or counts as failed.
READY_TIMEOUT_S = _env.float("READY_TIMEOUT_S", default=1.0)

# json: one JSON object per line (time, level, logger, message, request_id, exception),
# for a log collector; text: one readable line. JSON unless DEBUG (development) is on.
LOG_FORMAT = _env.str("LOG_FORMAT", default="text" if _env.bool("DEBUG", default=True) else "json")
LOGGING = logging_config(LOG_FORMAT, _env.str("LOG_LEVEL", default="INFO"))
# Celery's worker keeps the root logger as LOGGING set it, so its lines are JSON too.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False


def _byok_fee_percent(raw: str) -> Decimal:
    """BYOK_FEE_PERCENT: a percent, 0 to 100, with at most 4 decimals (billing.byok)."""
    try:
        value = Decimal(raw.strip())
    except InvalidOperation:
        value = None
    if value is None or not value.is_finite() or not 0 <= value <= 100 or value != round(value, 4):
        raise ImproperlyConfigured(
            f"BYOK_FEE_PERCENT must be a percent from 0 to 100 with at most 4 decimals, not {raw!r}."
        )
    return value


# The platform's fee on requests served by an organization's own provider key (BYOK), as
# a percent of their cost at the model's declared prices.
BYOK_FEE_PERCENT = _byok_fee_percent(_env.str("BYOK_FEE_PERCENT", default="0"))
# Whether an organization's own provider (BYOK) may have a base URL on a loopback,
# private or link-local address (its own Ollama or vLLM beside the gateway). Off in
# production (DEBUG=false) unless set: on a shared gateway such a URL reaches the
# platform's own network.
BYOK_ALLOW_PRIVATE_URLS = _env.bool(
    "BYOK_ALLOW_PRIVATE_URLS", default=_env.bool("DEBUG", default=True)
)
