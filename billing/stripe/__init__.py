"""Stripe, behind one seam: the only package that imports `stripe` (STYLE.md, Lago's
payment_providers/stripe). Off when STRIPE_SECRET_KEY is unset: invoices stay internal
and a top-up answers 409."""

from django.conf import settings

from accounts.errors import Conflict

STRIPE_OFF_MESSAGE = (
    "Top-ups need Stripe, which is not configured on this server; ask an admin to grant credits."
)


class StripeOff(Conflict):
    """Stripe is not configured: the caller answers 409 (API) or shows the message."""

    code = "stripe_off"

    def __init__(self, message: str = STRIPE_OFF_MESSAGE):
        super().__init__(message)


def enabled() -> bool:
    return bool(settings.STRIPE_SECRET_KEY)
