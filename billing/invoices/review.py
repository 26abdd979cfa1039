"""The admin's billing review: approve (finalize), mark paid, void, credit notes, credit
adjustments. Each action is audited (billing.audit) in its own transaction, refuses what
the invoice's state does not allow with a BillingError whose message says what to do,
and is safe to run twice: a repeated finalize, payment or void finds the state already
reached and changes nothing, and every ledger entry it writes has an external_id."""

from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import Max, Sum
from django.utils import timezone

from accounts.models import Organization, User
from accounts.money import usd_text
from billing.audit import audit_record
from billing.invoices.errors import BillingError
from billing.invoices.numbering import invoice_number_next
from billing.invoices.reconcile import reconcile_period
from billing.models import (
    OPEN_STATUSES,
    CheckStatus,
    CreditLedgerEntry,
    CreditNote,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    LedgerKind,
    LineKind,
    UsageRecord,
)
from billing.periods import next_period, period_bounds, period_of
from billing.rollups import rollups_refresh
from billing.services import ledger_write, organization_balance


def _snapshot(invoice: Invoice) -> dict:
    return {
        "status": invoice.status,
        "number": invoice.number,
        "total_pico": str(invoice.total_pico),
        "paid_from_credit_pico": str(invoice.paid_from_credit_pico),
        "check_status": invoice.check_status,
    }


def _label(invoice: Invoice) -> str:
    return invoice.number or f"the {invoice.period} invoice"


def invoice_refresh(*, invoice: Invoice, now: datetime | None = None) -> Invoice:
    """Rewrites an open invoice's lines and check from the current usage now."""
    now = now or timezone.now()
    rollups_refresh()
    reconcile_period(
        period=invoice.period, organization_ids={invoice.organization_id}, now=now, force=True
    )
    return Invoice.objects.get(pk=invoice.pk)


def _freeze_billed(invoice: Invoice) -> None:
    """What the invoice billed of its own period, kept so that usage recorded later is
    recognised as late (billing/invoices/reconcile.py)."""
    if invoice.check_details.get("billed"):
        return
    billed = invoice.lines.filter(kind__in=(LineKind.USAGE, LineKind.BYOK_FEE))
    cost = billed.aggregate(s=Sum("amount_pico"))["s"] or 0
    debited = invoice.check_details.get("rollups_debited_pico", "0")
    invoice.check_details = {
        **invoice.check_details,
        "billed": {"cost": str(cost), "debited": debited},
    }


def invoice_finalize(
    *, invoice: Invoice, actor: User | None, now: datetime | None = None
) -> Invoice:
    """Approves an invoice: refreshed from the usage one last time, refused unless its
    check reconciles, then credit is applied to what is due, it is numbered gaplessly and
    becomes finalized, or paid when nothing is due. With Stripe on and money due, it is
    pushed to Stripe once the transaction commits."""
    now = now or timezone.now()
    current = Invoice.objects.get(pk=invoice.pk)
    if current.status in (InvoiceStatus.FINALIZED, InvoiceStatus.PAID):
        return current
    if current.status == InvoiceStatus.VOID:
        raise BillingError(f"{_label(current)} is void, so it cannot be finalized.")
    if now < current.period_end:
        raise BillingError(
            f"The period {current.period} is still running; finalize its invoice once the "
            "period has ended."
        )
    current = invoice_refresh(invoice=current, now=now)
    with transaction.atomic():
        inv = Invoice.objects.select_for_update().get(pk=invoice.pk)
        if inv.status in (InvoiceStatus.FINALIZED, InvoiceStatus.PAID):
            return inv
        if inv.status not in OPEN_STATUSES:
            raise BillingError(f"{_label(inv)} is {inv.get_status_display().lower()}.")
        if inv.check_status != CheckStatus.OK:
            problems = " ".join(inv.check_details.get("problems", []))
            raise BillingError(
                f"{_label(inv)} does not reconcile, so it cannot be finalized. {problems} "
                "Look at its check, fix the cause, and reconcile again."
            )
        before = _snapshot(inv)
        inv.number = invoice_number_next()
        due = inv.amount_due_pico
        org = inv.organization_id
        if due > 0:
            balance = organization_balance(organization_id=org)
            applied = min(balance, due) if balance > 0 else 0
            if applied and ledger_write(
                organization_id=org,
                amount_pico=-applied,
                reason=f"Invoice {inv.number} paid from credit",
                kind=LedgerKind.INVOICE,
                created_by=actor,
                invoice_id=inv.pk,
                external_id=f"apply:{inv.pk}",
            ):
                position = (inv.lines.aggregate(m=Max("position"))["m"] or 0) + 1
                InvoiceLine.objects.create(
                    invoice=inv,
                    position=position,
                    kind=LineKind.CREDITS_APPLIED,
                    description="Paid from prepaid credit",
                    amount_pico=-applied,
                )
                inv.total_pico -= applied
        elif due < 0:
            ledger_write(
                organization_id=org,
                amount_pico=-due,
                reason=f"Invoice {inv.number}: credit notes beyond its total",
                kind=LedgerKind.INVOICE,
                created_by=actor,
                invoice_id=inv.pk,
                external_id=f"excess:{inv.pk}",
            )
        _freeze_billed(inv)
        inv.finalized_at = now
        inv.usage_watermark = (
            UsageRecord.objects.filter(
                organization_id=org, created_at__gte=inv.period_start, created_at__lt=inv.period_end
            ).aggregate(m=Max("id"))["m"]
            or 0
        )
        if inv.amount_due_pico <= 0:
            inv.status, inv.paid_via, inv.paid_at = InvoiceStatus.PAID, "credit", now
        else:
            inv.status = InvoiceStatus.FINALIZED
        inv.updated_at = timezone.now()
        inv.save()
        audit_record(
            actor=actor,
            action="invoice_finalize",
            target=f"invoice:{inv.pk}",
            organization=inv.organization,
            before=before,
            after=_snapshot(inv),
        )
        from billing import stripe as stripe_seam

        if stripe_seam.enabled() and inv.amount_due_pico > 0:
            from billing.stripe.tasks import stripe_invoice_push

            invoice_id = inv.pk
            transaction.on_commit(lambda: stripe_invoice_push.delay(invoice_id))
    return inv


def invoice_mark_paid(*, invoice: Invoice, actor: User | None, via: str = "manual") -> Invoice:
    """A finalized invoice's money arrived (by hand, or from Stripe with via="stripe")."""
    with transaction.atomic():
        inv = Invoice.objects.select_for_update().get(pk=invoice.pk)
        if inv.status == InvoiceStatus.PAID:
            return inv
        if inv.status != InvoiceStatus.FINALIZED:
            raise BillingError(
                f"{_label(inv)} is {inv.get_status_display().lower()}; only a finalized "
                "invoice can be marked paid. Finalize it first."
            )
        before = _snapshot(inv)
        inv.status, inv.paid_via, inv.paid_at = InvoiceStatus.PAID, via[:10], timezone.now()
        inv.save(update_fields=["status", "paid_via", "paid_at"])
        audit_record(
            actor=actor,
            action="invoice_mark_paid",
            target=f"invoice:{inv.pk}",
            organization=inv.organization,
            before=before,
            after={**_snapshot(inv), "paid_via": inv.paid_via},
        )
    return inv


def invoice_void(*, invoice: Invoice, actor: User | None, reason: str) -> Invoice:
    """Cancels an invoice, open or finalized or paid. The credit it consumed (its usage
    debits and any credit applied at finalization) comes back as one ledger entry, once
    ever (external_id "void:<id>"), however often this runs (Lago PR 3703)."""
    reason = (reason or "").strip()
    if not reason:
        raise BillingError("Say why the invoice is void: a reason is required.")
    with transaction.atomic():
        inv = Invoice.objects.select_for_update().get(pk=invoice.pk)
        if inv.status == InvoiceStatus.VOID:
            return inv
        before = _snapshot(inv)
        own = CreditLedgerEntry.objects.filter(
            invoice_id=inv.pk, external_id__in=[f"apply:{inv.pk}", f"excess:{inv.pk}"]
        ).aggregate(s=Sum("amount_pico"))["s"]
        consumed = inv.paid_from_credit_pico - (own or 0)
        if consumed:
            ledger_write(
                organization_id=inv.organization_id,
                amount_pico=consumed,
                reason=f"Void of {_label(inv)}: {reason}",
                kind=LedgerKind.INVOICE,
                created_by=actor,
                invoice_id=inv.pk,
                external_id=f"void:{inv.pk}",
            )
        _freeze_billed(inv)
        inv.status, inv.voided_at, inv.void_reason = (
            InvoiceStatus.VOID,
            timezone.now(),
            reason[:300],
        )
        inv.updated_at = timezone.now()
        inv.save()
        audit_record(
            actor=actor,
            action="invoice_void",
            target=f"invoice:{inv.pk}",
            organization=inv.organization,
            before=before,
            after={**_snapshot(inv), "credit_returned_pico": str(consumed)},
            reason=reason,
        )
    return inv


def invoice_open_next(*, organization_id: int, after: str, now: datetime | None = None) -> Invoice:
    """The organization's next open invoice after period `after`; when none is open, the
    invoice of the current period (or of the period after `after`) is made."""
    now = now or timezone.now()
    found = (
        Invoice.objects.filter(
            organization_id=organization_id, period__gt=after, status__in=OPEN_STATUSES
        )
        .order_by("period")
        .first()
    )
    if found is not None:
        return found
    period = max(period_of(now), next_period(after))
    start, end = period_bounds(period)
    try:
        with transaction.atomic():
            invoice, _ = Invoice.objects.get_or_create(
                organization_id=organization_id,
                period=period,
                defaults={"period_start": start, "period_end": end},
            )
    except IntegrityError:  # a twin made it first
        invoice = Invoice.objects.get(organization_id=organization_id, period=period)
    if invoice.status not in OPEN_STATUSES:
        raise BillingError(
            f"The organization's {period} invoice is already {invoice.status}; reconcile "
            "a later period first."
        )
    return invoice


def credit_note_issue(
    *,
    invoice: Invoice,
    actor: User | None,
    amount_pico: int,
    reason: str,
    now: datetime | None = None,
) -> CreditNote:
    """Gives money back on a finalized or paid invoice: a CreditNote and a negative
    credit_note line on the organization's next open invoice."""
    reason = (reason or "").strip()
    if not reason:
        raise BillingError("Say why the credit note is issued: a reason is required.")
    if amount_pico <= 0:
        raise BillingError("A credit note gives back a positive amount; enter one above $0.")
    with transaction.atomic():
        inv = Invoice.objects.select_for_update().get(pk=invoice.pk)
        if inv.status not in (InvoiceStatus.FINALIZED, InvoiceStatus.PAID):
            raise BillingError(
                f"{_label(inv)} is {inv.get_status_display().lower()}; credit notes are "
                "issued on finalized or paid invoices (void an invoice to cancel it)."
            )
        given = inv.credit_notes.aggregate(s=Sum("amount_pico"))["s"] or 0
        room = inv.total_pico - given
        if amount_pico > room:
            raise BillingError(
                f"At most ${usd_text(max(room, 0))} can still be credited on {_label(inv)}."
            )
        carrier = invoice_open_next(organization_id=inv.organization_id, after=inv.period, now=now)
        note = CreditNote.objects.create(
            invoice=inv,
            amount_pico=amount_pico,
            reason=reason[:300],
            applied_to=carrier,
            created_by=actor if actor is not None and actor.is_authenticated else None,
        )
        audit_record(
            actor=actor,
            action="credit_note_issue",
            target=f"invoice:{inv.pk}",
            organization=inv.organization,
            before={"credited_pico": str(given)},
            after={
                "credited_pico": str(given + amount_pico),
                "credit_note": note.pk,
                "applied_to": f"invoice:{carrier.pk}",
            },
            reason=reason,
        )
    invoice_refresh(invoice=carrier, now=now)
    return note


def credits_adjust(
    *,
    organization: Organization,
    actor: User | None,
    amount_pico: int,
    reason: str,
    idempotency_key: str = "",
) -> int:
    """Adds (positive) or removes (negative) credit by hand; returns the new balance.
    With an `idempotency_key` (a form's token), a resubmission adjusts once."""
    reason = (reason or "").strip()
    if not reason:
        raise BillingError("Say why the credit is adjusted: a reason is required.")
    if not amount_pico:
        raise BillingError("Enter an amount other than $0 to adjust the credit by.")
    with transaction.atomic():
        before = organization_balance(organization_id=organization.pk)
        entry = ledger_write(
            organization_id=organization.pk,
            amount_pico=amount_pico,
            reason=reason,
            kind=LedgerKind.ADJUSTMENT,
            created_by=actor if actor is not None and actor.is_authenticated else None,
            external_id=f"adjust:{idempotency_key}"[:120] if idempotency_key else "",
        )
        after = organization_balance(organization_id=organization.pk)
        if entry is not None:
            audit_record(
                actor=actor,
                action="credits_adjust",
                target=f"organization:{organization.pk}",
                organization=organization,
                before={"balance_pico": str(before)},
                after={"balance_pico": str(after), "amount_pico": str(amount_pico)},
                reason=reason,
            )
    organization.credit_balance_pico = after
    return after
