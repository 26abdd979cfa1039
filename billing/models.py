"""The credit ledger: immutable entries whose sum is an organization's balance."""

from django.conf import settings
from django.db import models
from django.utils import timezone


class LedgerKind(models.TextChoices):
    GRANT = "grant", "Grant"
    TOPUP = "topup", "Top-up"
    USAGE = "usage", "Usage debit"
    REFUND = "refund", "Refund"
    ADJUSTMENT = "adjustment", "Adjustment"


class CreditLedgerEntry(models.Model):
    organization = models.ForeignKey("accounts.Organization", on_delete=models.PROTECT)
    kind = models.CharField(max_length=12, choices=LedgerKind.choices)
    # Signed micro-USD: positive adds credit, negative removes it.
    amount_micros = models.BigIntegerField()
    reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )

    class Meta:
        verbose_name_plural = "credit ledger entries"
        indexes = [models.Index(fields=["organization", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount_micros} for {self.organization_id}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValueError("Ledger entries are immutable; add a new entry instead.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("Ledger entries are immutable; add a new entry instead.")
