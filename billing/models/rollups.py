"""Usage per UTC day × organization × key × model: what pages, the usage API and invoices
read instead of raw usage rows."""

from django.db import models


class UsageSums(models.Model):
    """What a rollup row sums over its records, whatever its bucket (a day, an hour)."""

    # The key's id, 0 for a record whose key is gone: a plain integer so that the unique
    # constraint holds (NULLs are distinct to it).
    key_id = models.PositiveIntegerField(default=0)
    model = models.CharField(max_length=200)
    requests = models.BigIntegerField(default=0)
    # Requests that did not end well (any status but ok).
    errors = models.BigIntegerField(default=0)
    input_tokens = models.BigIntegerField(default=0)
    output_tokens = models.BigIntegerField(default=0)
    cached_tokens = models.BigIntegerField(default=0)
    cache_write_tokens = models.BigIntegerField(default=0)
    cost_pico = models.BigIntegerField(default=0)
    # What prepaid credit paid for the records when they were recorded: their cost, or
    # their fee when BYOK (billing.byok).
    debited_pico = models.BigIntegerField(default=0)
    # Of cost_pico, the cost of the records served by the organization's own provider key
    # (BYOK), and the fees charged on them instead (billing.byok); of debited_pico, what
    # paid those fees.
    byok_cost_pico = models.BigIntegerField(default=0)
    fee_pico = models.BigIntegerField(default=0)
    debited_fee_pico = models.BigIntegerField(default=0)

    class Meta:
        abstract = True


class UsageRollup(UsageSums):
    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE)
    day = models.DateField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "day", "key_id", "model"], name="usage_rollup_unique"
            )
        ]
        indexes = [models.Index(fields=["organization", "day"])]

    def __str__(self) -> str:
        return f"{self.organization_id} {self.day} {self.key_id} {self.model}"


class UsageRollupHour(UsageSums):
    """The same sums per UTC hour: what the Usage page draws for ranges short enough to
    read by the hour. Recomputed with the daily rows, from the same records."""

    # No index of its own: the unique constraint's index starts with it.
    organization = models.ForeignKey(
        "accounts.Organization", on_delete=models.CASCADE, db_index=False
    )
    hour = models.DateTimeField()  # UTC, on the hour

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "hour", "key_id", "model"], name="usage_rollup_hour_unique"
            )
        ]
        # No (organization, hour) index: the unique constraint's index starts with those
        # columns and serves the same reads, and one index fewer is what keeps a month's
        # refresh of ten million hourly-distinct records within the reconcile's target.

    def __str__(self) -> str:
        return f"{self.organization_id} {self.hour:%Y-%m-%d %H}h {self.key_id} {self.model}"


class RollupDirty(models.Model):
    """A (organization, day) whose rollup rows are behind its usage records: marked by the
    usage writer in the transaction that inserts them, cleared by the rollup task once it
    has recomputed that day from the records."""

    organization_id = models.PositiveIntegerField()
    day = models.DateField()
    marks = models.BigIntegerField(default=1)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization_id", "day"], name="rollup_dirty_unique")
        ]

    def __str__(self) -> str:
        return f"{self.organization_id} {self.day}"
