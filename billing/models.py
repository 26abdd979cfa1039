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
    # Signed pico-USD (accounts.money): positive adds credit, negative removes it.
    amount_pico = models.BigIntegerField()
    reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )

    class Meta:
        verbose_name_plural = "credit ledger entries"
        indexes = [models.Index(fields=["organization", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount_pico} for {self.organization_id}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValueError("Ledger entries are immutable; add a new entry instead.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("Ledger entries are immutable; add a new entry instead.")


class UsageStatus(models.TextChoices):
    OK = "ok", "OK"
    UPSTREAM_ERROR = "upstream_error", "Upstream error"
    CLIENT_ERROR = "client_error", "Rejected by upstream"
    CLIENT_ABORT = "client_abort", "Client disconnected"
    REFUSED = "refused", "Refused by the gateway"  # auth passed; a 4xx before any upstream


class UsageRecord(models.Model):
    """One /v1 request that passed authentication: exactly one row, whatever became of it."""

    request_id = models.CharField(max_length=64, unique=True)
    organization = models.ForeignKey("accounts.Organization", on_delete=models.PROTECT)
    api_key = models.ForeignKey("accounts.APIKey", null=True, blank=True, on_delete=models.SET_NULL)
    endpoint = models.CharField(max_length=40)
    model = models.CharField(max_length=200)
    provider = models.CharField(max_length=100, blank=True)
    upstream_model = models.CharField(max_length=200, blank=True)
    # A plain id, not a key to proxy's table: billing sits below proxy, and a record
    # outlives the deployment that served it (provider and upstream_model keep its name).
    deployment_id = models.PositiveIntegerField(null=True, blank=True)
    status = models.CharField(max_length=20, choices=UsageStatus.choices)
    http_status = models.PositiveSmallIntegerField(default=200)
    streamed = models.BooleanField(default=False)
    input_tokens = models.PositiveIntegerField(default=0)
    output_tokens = models.PositiveIntegerField(default=0)
    cached_tokens = models.PositiveIntegerField(default=0)
    cache_write_tokens = models.PositiveIntegerField(default=0)
    # True when the upstream never reported usage (a stream cut short) and the counts
    # are the gateway's own estimate of what was consumed.
    tokens_estimated = models.BooleanField(default=False)
    cost_pico = models.BigIntegerField(default=0)
    latency_ms = models.FloatField(default=0.0)
    ttft_ms = models.FloatField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=1)
    error = models.CharField(max_length=300, blank=True)
    # The error's machine code (the 402/429 codes of the contract, model_not_found, …).
    code = models.CharField(max_length=40, blank=True)
    # The upstream reported an absurd figure; it was capped (billing.usage.sanitized).
    flagged = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        indexes = [
            models.Index(fields=["organization", "-created_at"]),
            models.Index(fields=["api_key", "-created_at"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(cost_pico__gte=0), name="usage_cost_not_negative"
            )
        ]

    def __str__(self) -> str:
        return f"{self.request_id} {self.model} {self.status}"


class UsageQuarantine(models.Model):
    """A usage event the database refused: kept whole, apart, for an admin to look at;
    the rest of its batch was written without it."""

    request_id = models.CharField(max_length=200, db_index=True)
    payload = models.JSONField()
    error = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "quarantined usage events"

    def __str__(self) -> str:
        return f"{self.request_id}: {self.error[:60]}"


class SpendCounter(models.Model):
    """What a key or an organization spent in one period, kept by the usage writer so that
    a budget's reservation starts from one row, never from a scan of the usage.

    subject: "key:<id>" or "org:<id>"; period: "total", "d2026-12-01", "w2026-11-30"
    (its Monday), "m2026-12"."""

    subject = models.CharField(max_length=40)
    period = models.CharField(max_length=12)
    spent_pico = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["subject", "period"], name="spend_counter_unique")
        ]

    def __str__(self) -> str:
        return f"{self.subject} {self.period}: {self.spent_pico}"


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
