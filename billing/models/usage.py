"""Usage records, the events the database refused, and what each key and organization spent."""

from django.db import models
from django.utils import timezone


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
    # Served by the organization's own provider key: it is charged fee_pico
    # (billing.byok), not cost_pico, which stays the cost at the model's declared prices.
    byok = models.BooleanField(default=False)
    fee_pico = models.BigIntegerField(default=0)
    latency_ms = models.FloatField(default=0.0)
    ttft_ms = models.FloatField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=1)
    error = models.CharField(max_length=300, blank=True)
    # The error's machine code (the 402/429 codes of the contract, model_not_found, …).
    code = models.CharField(max_length=40, blank=True)
    # The upstream reported an absurd figure; it was capped (billing.usage.sanitized).
    flagged = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    # The usage debit that paid for this record (prepaid plans); None when the record cost
    # nothing or its plan bills usage on the invoice instead. No index: reconciliation
    # joins by (organization, period), never by entry.
    ledger_entry = models.ForeignKey(
        "billing.CreditLedgerEntry",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        db_index=False,
        related_name="+",
    )

    class Meta:
        indexes = [
            models.Index(fields=["organization", "-created_at"]),
            models.Index(fields=["api_key", "-created_at"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(cost_pico__gte=0), name="usage_cost_not_negative"
            ),
            models.CheckConstraint(
                condition=models.Q(fee_pico__gte=0, fee_pico__lte=models.F("cost_pico")),
                name="usage_fee_within_cost",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.request_id} {self.model} {self.status}"


class UsageBody(models.Model):
    """The prompt and answer of one request, stored only while its organization has body
    logging on (accounts.Organization.log_bodies), and deleted after its retention."""

    request_id = models.CharField(max_length=64, unique=True)
    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    # The request body as the client sent it, and the answer as the client received it
    # (the server-sent events of a stream), each cut at billing.bodies.MAX_CHARS.
    prompt = models.TextField(blank=True)
    answer = models.TextField(blank=True)
    prompt_truncated = models.BooleanField(default=False)
    answer_truncated = models.BooleanField(default=False)

    def __str__(self) -> str:
        return self.request_id


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
