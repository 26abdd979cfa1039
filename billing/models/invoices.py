"""Invoices: one per organization per period, made of lines whose sum is the total."""

from django.conf import settings
from django.db import models
from django.utils import timezone


class InvoiceStatus(models.TextChoices):
    DRAFT = "draft", "Draft"  # the period is open; refreshed as usage arrives
    IN_REVIEW = "in_review", "In review"  # the period closed; waiting for an admin
    FINALIZED = "finalized", "Finalized"  # numbered and frozen; payment due
    PAID = "paid", "Paid"
    VOID = "void", "Void"


OPEN_STATUSES = (InvoiceStatus.DRAFT, InvoiceStatus.IN_REVIEW)


class CheckStatus(models.TextChoices):
    PENDING = "pending", "Not checked yet"
    OK = "ok", "Reconciles"
    MISMATCH = "mismatch", "Does not reconcile"


class Invoice(models.Model):
    organization = models.ForeignKey(
        "accounts.Organization", on_delete=models.PROTECT, related_name="invoices"
    )
    period = models.CharField(max_length=7)  # "YYYY-MM", a calendar month in UTC
    period_start = models.DateTimeField()
    period_end = models.DateTimeField()
    plan = models.CharField(max_length=60)  # the plan's name at the end of the period
    status = models.CharField(
        max_length=10, choices=InvoiceStatus.choices, default=InvoiceStatus.DRAFT
    )
    # Gapless and sequential ("INV-000042"), given at finalization (InvoiceCounter).
    number = models.CharField(max_length=20, null=True, blank=True, unique=True)
    total_pico = models.BigIntegerField(default=0)  # = Σ lines, signed
    # Of the total, what was already debited from prepaid credit as requests were made.
    paid_from_credit_pico = models.BigIntegerField(default=0)
    check_status = models.CharField(
        max_length=10, choices=CheckStatus.choices, default=CheckStatus.PENDING
    )
    # Each figure the check compared (lines, rollups, raw usage, ledger), as pico strings.
    check_details = models.JSONField(default=dict, blank=True)
    checked_at = models.DateTimeField(null=True, blank=True)
    # The highest usage record id the invoice had seen when it was finalized: records
    # above it for this period arrived late (they go on a later invoice as an adjustment).
    usage_watermark = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    finalized_at = models.DateTimeField(null=True, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    paid_via = models.CharField(max_length=10, blank=True)  # credit, stripe, manual
    voided_at = models.DateTimeField(null=True, blank=True)
    void_reason = models.CharField(max_length=300, blank=True)
    stripe_invoice_id = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["-period_start", "organization_id"]
        constraints = [
            # Lago PR 1988: a retried or doubled job can never make a second invoice.
            models.UniqueConstraint(fields=["organization", "period"], name="invoice_per_period")
        ]
        indexes = [models.Index(fields=["status", "period"])]

    def __str__(self) -> str:
        return self.number or f"draft {self.period} for {self.organization_id}"

    @property
    def amount_due_pico(self) -> int:
        return self.total_pico - self.paid_from_credit_pico


class LineKind(models.TextChoices):
    PLAN_FEE = "plan_fee", "Plan fee"
    USAGE = "usage", "Usage"  # one per model, at list price
    BYOK_FEE = "byok_fee", "BYOK fee"  # one per model served by the org's own key
    INCLUDED = "included", "Included in the plan"  # negative
    OVERAGE = "overage", "Overage"
    PRORATION = "proration", "Proration"
    CREDITS_APPLIED = "credits_applied", "Paid from credit"  # negative
    ADJUSTMENT = "adjustment", "Adjustment"  # late usage of an earlier period
    CREDIT_NOTE = "credit_note", "Credit note"  # negative


class InvoiceLine(models.Model):
    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveIntegerField(default=0)
    kind = models.CharField(max_length=16, choices=LineKind.choices)
    description = models.CharField(max_length=300)
    model = models.CharField(max_length=200, blank=True)
    quantity = models.BigIntegerField(default=0)  # tokens for usage lines, else 1
    amount_pico = models.BigIntegerField()  # signed
    # Adjustments: the earlier period whose late usage this line bills.
    covers_period = models.CharField(max_length=7, blank=True)

    class Meta:
        ordering = ["invoice", "position", "id"]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount_pico}"


class InvoiceCounter(models.Model):
    """The last number given; taken under a row lock in the finalizing transaction, so
    numbers are gapless (a rolled-back finalization gives its number back)."""

    name = models.CharField(max_length=20, unique=True)
    last = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.name}: {self.last}"


class CreditNote(models.Model):
    """Money given back against a finalized invoice: a negative credit_note line on the
    organization's next open invoice (`applied_to`)."""

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="credit_notes")
    amount_pico = models.BigIntegerField()  # positive: what is given back
    reason = models.CharField(max_length=300)
    applied_to = models.ForeignKey(
        Invoice, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(amount_pico__gt=0), name="credit_note_positive"
            )
        ]

    def __str__(self) -> str:
        return f"credit note {self.amount_pico} on {self.invoice_id}"
