"""Writes to the credit ledger. Every balance change goes through here."""

from django.db import transaction
from django.db.models import F, Sum

from accounts.models import Organization, User
from billing.models import CreditLedgerEntry, LedgerKind


def credits_grant(
    *,
    organization: Organization,
    amount_micros: int,
    reason: str,
    kind: str = LedgerKind.GRANT,
    created_by: User | None = None,
) -> int:
    """Adds (or, negative, removes) credit; returns the new balance in micro-USD.

    The entry and the cached balance change in one transaction, the balance by an
    atomic UPDATE so that concurrent writers never lose each other's changes.
    """
    with transaction.atomic():
        CreditLedgerEntry.objects.create(
            organization=organization,
            kind=kind,
            amount_micros=amount_micros,
            reason=reason[:200],
            created_by=created_by,
        )
        Organization.objects.filter(pk=organization.pk).update(
            credit_balance_micros=F("credit_balance_micros") + amount_micros
        )
        balance = Organization.objects.values_list("credit_balance_micros", flat=True).get(
            pk=organization.pk
        )
    organization.credit_balance_micros = balance
    return balance


def ledger_balance(*, organization: Organization) -> int:
    """The balance recomputed from the ledger, to check the cached one against."""
    total = CreditLedgerEntry.objects.filter(organization=organization).aggregate(
        s=Sum("amount_micros")
    )["s"]
    return total or 0
