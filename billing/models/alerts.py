"""Alerts raised for an organization."""

from django.db import models
from django.utils import timezone


class AlertKind(models.TextChoices):
    LOW_BALANCE = "low_balance", "Low balance"
    SPEND_SPIKE = "spend_spike", "Spend spike"


class Alert(models.Model):
    """An alert raised for an organization: emailed to its owners once, shown as a portal
    banner until resolved (the condition is gone) or dismissed."""

    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE)
    kind = models.CharField(max_length=20, choices=AlertKind.choices)
    message = models.CharField(max_length=300)
    created_at = models.DateTimeField(default=timezone.now)
    emailed_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["organization", "resolved_at"])]

    def __str__(self) -> str:
        return f"{self.kind} for {self.organization_id}"
