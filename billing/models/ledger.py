"""The credit ledger: immutable entries whose sum is an organization's balance."""

from django.conf import settings
from django.db import models
from django.utils import timezone


class LedgerKind(models.TextChoices):
    GRANT = "grant", "Grant"
    TOPUP = "topup", "Top-up"
    USAGE = "usage", "Usage debit"
    # The fee on requests served by an organization's own provider key (billing.byok).
    BYOK_FEE = "byok_fee", "BYOK fee"
    REFUND = "refund", "Refund"
    ADJUSTMENT = "adjustment", "Adjustment"
    # An invoice paid from prepaid credit (its credits_applied line), or credit given back
    # by a void or a credit note.
    INVOICE = "invoice", "Invoice"
    # A top-up taken back: refunded or disputed at Stripe.
    REVERSAL = "reversal", "Reversal"


class CreditLedgerEntry(models.Model):
    organization = models.ForeignKey("accounts.Organization", on_delete=models.PROTECT)
    kind = models.CharField(max_length=12, choices=LedgerKind.choices)
    # Signed pico-USD (accounts.money): positive adds credit, negative removes it.
    amount_pico = models.BigIntegerField()
    reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    # Usage debits: the month ("YYYY-MM", UTC) of the records the entry covers; one entry
    # never spans two months, so a period's debits are exactly its records' cost.
    period = models.CharField(max_length=7, blank=True)
    # Entries made for an invoice: credits applied to it, credit given back by its void.
    invoice = models.ForeignKey(
        "billing.Invoice",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="ledger_entries",
    )
    # What made the entry, unique when set ("checkout:cs_…", "refund:re_…", "void:12"):
    # a webhook delivered twice, or a void run twice, writes one entry.
    external_id = models.CharField(max_length=120, blank=True)

    class Meta:
        verbose_name_plural = "credit ledger entries"
        indexes = [
            models.Index(fields=["organization", "-created_at"]),
            models.Index(fields=["organization", "kind", "period"]),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["external_id"],
                condition=~models.Q(external_id=""),
                name="ledger_external_id_unique",
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount_pico} for {self.organization_id}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValueError("Ledger entries are immutable; add a new entry instead.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("Ledger entries are immutable; add a new entry instead.")
