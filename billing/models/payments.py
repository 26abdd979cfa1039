"""What Stripe told us and what we asked of it: events applied once, top-ups, customers."""

from django.conf import settings
from django.db import models
from django.utils import timezone


class StripeEvent(models.Model):
    """A webhook event, applied once by its id (a redelivery finds its row)."""

    event_id = models.CharField(max_length=100, unique=True)
    type = models.CharField(max_length=80)
    payload = models.JSONField()
    received_at = models.DateTimeField(default=timezone.now)
    processed_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    def __str__(self) -> str:
        return f"{self.event_id} {self.type}"


class TopUpStatus(models.TextChoices):
    PENDING = "pending", "Waiting for payment"
    PAID = "paid", "Paid and credited"
    FAILED = "failed", "Payment failed"
    EXPIRED = "expired", "Expired"
    REFUNDED = "refunded", "Refunded"
    DISPUTED = "disputed", "Disputed"


class TopUp(models.Model):
    """Credit bought through Stripe: a Checkout Session, or an auto-reload's payment."""

    organization = models.ForeignKey(
        "accounts.Organization", on_delete=models.PROTECT, related_name="topups"
    )
    amount_pico = models.BigIntegerField()
    kind = models.CharField(max_length=12, default="checkout")  # checkout, autoreload
    status = models.CharField(
        max_length=10, choices=TopUpStatus.choices, default=TopUpStatus.PENDING
    )
    checkout_session_id = models.CharField(max_length=100, null=True, blank=True, unique=True)
    payment_intent_id = models.CharField(max_length=100, null=True, blank=True, unique=True)
    refunded_pico = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    paid_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(amount_pico__gt=0), name="topup_positive")
        ]

    def __str__(self) -> str:
        return f"top-up {self.amount_pico} for {self.organization_id} ({self.status})"


class BillingProfile(models.Model):
    """An organization's Stripe customer, its saved card, and its auto-reload settings
    (OpenAI's: below `threshold`, buy up to `target`, at most `monthly_max` a month)."""

    organization = models.OneToOneField(
        "accounts.Organization", on_delete=models.CASCADE, related_name="billing_profile"
    )
    stripe_customer_id = models.CharField(max_length=100, blank=True)
    default_payment_method = models.CharField(max_length=100, blank=True)
    autoreload_enabled = models.BooleanField(default=False)
    autoreload_threshold_pico = models.BigIntegerField(default=0)
    autoreload_target_pico = models.BigIntegerField(default=0)
    autoreload_monthly_max_pico = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"billing profile of {self.organization_id}"
