"""Plans and which one each organization is on, when (Lago: a plan is a fee plus charges)."""

from django.conf import settings
from django.db import models
from django.utils import timezone


class PlanKind(models.TextChoices):
    PREPAID = "prepaid", "Prepaid (per token, from credits)"
    FLAT = "flat", "Flat monthly fee with included usage"


class Overage(models.TextChoices):
    BILL = "bill", "Billed per token"
    CAP = "cap", "Requests stop (402 plan_cap)"


class Plan(models.Model):
    name = models.SlugField(max_length=60, unique=True)
    kind = models.CharField(max_length=10, choices=PlanKind.choices, default=PlanKind.PREPAID)
    # The plan of an organization that never chose one; at most one row.
    is_default = models.BooleanField(default=False)
    monthly_fee_pico = models.BigIntegerField(default=0)
    # Usage at list prices that the fee covers each period (flat plans).
    included_pico = models.BigIntegerField(default=0)
    overage = models.CharField(max_length=4, choices=Overage.choices, blank=True)
    is_active = models.BooleanField(default=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"], condition=models.Q(is_default=True), name="one_default_plan"
            ),
            models.CheckConstraint(
                condition=models.Q(monthly_fee_pico__gte=0, included_pico__gte=0),
                name="plan_amounts_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_flat(self) -> bool:
        return self.kind == PlanKind.FLAT


class PlanChange(models.Model):
    """From `effective_at` on, `organization` is on `plan`, until its next change. The plan
    in force at t is the latest change at or before t (none: the default plan). A change
    after now is scheduled (a downgrade at the next period); `prorated` marks an upgrade
    taken at once, whose difference of fees the period's invoice prorates."""

    organization = models.ForeignKey(
        "accounts.Organization", on_delete=models.CASCADE, related_name="plan_changes"
    )
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="+")
    effective_at = models.DateTimeField()
    prorated = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )

    class Meta:
        ordering = ["organization", "effective_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "effective_at"], name="plan_change_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.organization_id} → {self.plan_id} at {self.effective_at:%Y-%m-%d %H:%M}"
