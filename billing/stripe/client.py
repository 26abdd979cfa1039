"""The one configured Stripe client. Every POST names its own Idempotency-Key, derived
from our ids, so a retried task or a double click asks Stripe for the same object twice
and gets it once (Stripe replays the first answer for the same key)."""

import stripe
from django.conf import settings

from billing.stripe import StripeOff, enabled

# Network retries reuse the request's own key, so they are safe (never a random one).
MAX_NETWORK_RETRIES = 2
TIMEOUT_S = 20


def stripe_client() -> stripe.StripeClient:
    """A client for STRIPE_SECRET_KEY, pointed at STRIPE_API_BASE when set (the loopback
    doubles in tests); StripeOff when no key is configured."""
    if not enabled():
        raise StripeOff()
    base = settings.STRIPE_API_BASE.rstrip("/")
    return stripe.StripeClient(
        settings.STRIPE_SECRET_KEY,
        base_addresses={"api": base} if base else None,
        max_network_retries=MAX_NETWORK_RETRIES,
        http_client=stripe.RequestsClient(timeout=TIMEOUT_S),
    )


def idempotent(key: str) -> dict:
    """The request options of a POST: its deterministic Idempotency-Key."""
    if not key:
        raise ValueError("A Stripe POST needs an idempotency key derived from our ids.")
    return {"idempotency_key": key}


def cents(pico: int) -> int:
    """pico-USD to Stripe's integer cents, rounding half away from zero."""
    sign = -1 if pico < 0 else 1
    return sign * ((abs(pico) + 5 * 10**9) // 10**10)


def pico(cents_amount: int) -> int:
    return int(cents_amount) * 10**10
