"""billing's answers to what accounts announces (accounts/signals.py); connected in
billing/apps.py, so the ledger stays above accounts in the layers."""

from django.conf import settings

from accounts.models import APIKey, Organization
from accounts.money import usd_to_pico
from billing.models import SpendCounter
from billing.services import credits_grant
from billing.spend_counters import key_subject


def grant_signup_credit(*, organization: Organization, **_kwargs) -> None:
    """A new sign-up's organization starts with SIGNUP_CREDIT_USD (none when it is 0)."""
    grant = usd_to_pico(settings.SIGNUP_CREDIT_USD)
    if grant:
        credits_grant(organization=organization, amount_pico=grant, reason="Sign-up credit")


def carry_spend_over(*, old: APIKey, new: APIKey, **_kwargs) -> None:
    """The new key starts where the old one's budget stood: its total and every period."""
    APIKey.objects.filter(pk=new.pk).update(spent_pico=old.spent_pico)
    new.spent_pico = old.spent_pico
    SpendCounter.objects.bulk_create(
        SpendCounter(subject=key_subject(new.pk), period=c.period, spent_pico=c.spent_pico)
        for c in SpendCounter.objects.filter(subject=key_subject(old.pk))
    )
