"""Stripe, behind one seam: the only package that imports `stripe` (STYLE.md, Lago's
payment_providers/stripe). Off when STRIPE_SECRET_KEY is unset: invoices stay internal
and a top-up answers 409."""

from django.conf import settings


def enabled() -> bool:
    return bool(settings.STRIPE_SECRET_KEY)
