"""Writes to the credit ledger. Every balance change goes through here."""

from django.db import IntegrityError, transaction
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
    period: str = "",
    invoice_id: int | None = None,
) -> int:
    """The ledger entry and the cached balance change in one transaction; returns the new
    balance in pico-USD."""
    with transaction.atomic():
        ledger_write(
            organization_id=organization_id,
            amount_pico=amount_pico,
            reason=reason,
            kind=kind,
            created_by=created_by,
            period=period,
            invoice_id=invoice_id,
        )
        return organization_balance(organization_id=organization_id)


def ledger_write(
    *,
    organization_id: int,
    amount_pico: int,
    reason: str,
    kind: str,
    created_by: User | None = None,
    period: str = "",
    invoice_id: int | None = None,
    external_id: str = "",
) -> CreditLedgerEntry | None:
    """Writes one entry and moves the cached balance by an atomic UPDATE, so concurrent
    writers never lose each other's changes. Call inside a transaction.

    With an `external_id` the write happens at most once, ever: when that id already has
    its entry (a webhook redelivered, a void run twice) nothing changes and None is
    returned."""
    fields = dict(
        organization_id=organization_id,
        kind=kind,
        amount_pico=amount_pico,
        reason=reason[:200],
        created_by=created_by,
        period=period,
        invoice_id=invoice_id,
        external_id=external_id,
    )
    if external_id:
        if CreditLedgerEntry.objects.filter(external_id=external_id).exists():
            return None
        try:
            with transaction.atomic():  # a savepoint: a racing twin's insert wins
                entry = CreditLedgerEntry.objects.create(**fields)
        except IntegrityError:
            return None
    else:
        entry = CreditLedgerEntry.objects.create(**fields)
    Organization.objects.filter(pk=organization_id).update(
        credit_balance_pico=F("credit_balance_pico") + amount_pico
    )
    # What requests may reserve follows the ledger once the entry is committed.
    transaction.on_commit(
        lambda: holds.ledger_changed(
            organization_id,
            entry.pk,
            amount_pico,
            usage=kind in (LedgerKind.USAGE, LedgerKind.BYOK_FEE),
        )
    )
    return entry


def organization_balance(*, organization_id: int) -> int:
    """The cached balance, as the database holds it now."""
    return Organization.objects.values_list("credit_balance_pico", flat=True).get(
        pk=organization_id
    )


def ledger_balance(*, organization: Organization) -> int:
    """The balance recomputed from the ledger, to check the cached one against."""
    total = CreditLedgerEntry.objects.filter(organization=organization).aggregate(
        s=Sum("amount_pico")
    )["s"]
    return total or 0
