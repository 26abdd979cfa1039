"""billing's answers to what accounts announces (accounts/signals.py); connected in
billing/apps.py, so the ledger stays above accounts in the layers."""

from django.conf import settings

from accounts.models import Organization
from accounts.money import usd_to_pico
from billing.services import credits_grant


def grant_signup_credit(*, organization: Organization, **_kwargs) -> None:
    """A new sign-up's organization starts with SIGNUP_CREDIT_USD (none when it is 0)."""
    grant = usd_to_pico(settings.SIGNUP_CREDIT_USD)
    if grant:
        credits_grant(organization=organization, amount_pico=grant, reason="Sign-up credit")
