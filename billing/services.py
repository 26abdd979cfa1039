"""Writes to the credit ledger. Every balance change goes through here."""

from django.db import transaction
from django.db.models import F, Sum

from accounts.models import Organization, User
from billing import holds
from billing.models import CreditLedgerEntry, LedgerKind


def credits_grant(
    *,
    organization: Organization,
    amount_pico: int,
    reason: str,
    kind: str = LedgerKind.GRANT,
    created_by: User | None = None,
) -> int:
    """Adds (or, negative, removes) credit; returns the new balance in pico-USD."""
    balance = credits_apply(
        organization_id=organization.pk,
        amount_pico=amount_pico,
        reason=reason,
        kind=kind,
        created_by=created_by,
    )
    organization.credit_balance_pico = balance
    return balance


def credits_apply(
    *,
    organization_id: int,
    amount_pico: int,
    reason: str,
    kind: str,
    created_by: User | None = None,
) -> int:
    """The ledger entry and the cached balance change in one transaction, the balance by
    an atomic UPDATE so that concurrent writers never lose each other's changes."""
    with transaction.atomic():
        entry = CreditLedgerEntry.objects.create(
            organization_id=organization_id,
            kind=kind,
            amount_pico=amount_pico,
            reason=reason[:200],
            created_by=created_by,
        )
        Organization.objects.filter(pk=organization_id).update(
            credit_balance_pico=F("credit_balance_pico") + amount_pico
        )
        # What requests may reserve follows the ledger once the entry is committed.
        transaction.on_commit(
            lambda: holds.ledger_changed(
                organization_id, entry.pk, amount_pico, usage=kind == LedgerKind.USAGE
            )
        )
        return Organization.objects.values_list("credit_balance_pico", flat=True).get(
            pk=organization_id
        )


def ledger_balance(*, organization: Organization) -> int:
    """The balance recomputed from the ledger, to check the cached one against."""
    total = CreditLedgerEntry.objects.filter(organization=organization).aggregate(
        s=Sum("amount_pico")
    )["s"]
    return total or 0
