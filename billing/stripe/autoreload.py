"""Auto-reload (OpenAI's): when the balance falls below a threshold, the saved card is
charged up to a target, at most a monthly maximum a month.

One charge per crossing: while an auto-reload of the organization is still pending
(charged, its webhook not yet in) no other starts, and once it credits the balance is
back above the threshold. The charge's Idempotency-Key is (organization, month, n), so
a check run twice at once, or retried after a lost answer, charges once."""

import logging
from dataclasses import dataclass
from datetime import timedelta

import stripe
from django.db import transaction
from django.db.models import Sum

from accounts.errors import DomainError, FieldError
from accounts.models import Organization, User
from accounts.money import format_usd
from billing.audit import audit_record
from billing.models import BillingProfile, TopUp
from billing.models.payments import TopUpStatus
from billing.periods import period_bounds, period_of
from billing.services import organization_balance
from billing.stripe import StripeOff, enabled
from billing.stripe.client import cents, idempotent, stripe_client
from billing.stripe.topups import MAX_TOPUP_USD, topup_credit, topup_failed, topup_link

logger = logging.getLogger(__name__)

# A pending auto-reload with no payment yet is asked for again (same key) only after the
# client's own timeouts and retries are surely over, so racing checks never send it twice.
RESEND_AFTER = timedelta(minutes=2)
COUNTED = (TopUpStatus.PENDING, TopUpStatus.PAID, TopUpStatus.REFUNDED, TopUpStatus.DISPUTED)


@dataclass(frozen=True)
class AutoreloadSettings:
    enabled: bool
    threshold_pico: int
    target_pico: int
    monthly_max_pico: int


def autoreload_update(
    *, organization: Organization, settings: AutoreloadSettings, actor: User | None
) -> BillingProfile:
    """Saves the organization's auto-reload; FieldError for values that cannot work,
    NotAllowed-like DomainError when no card is saved."""
    profile, _ = BillingProfile.objects.get_or_create(organization=organization)
    if settings.enabled:
        if not enabled():
            raise StripeOff(
                "Auto-reload needs Stripe, which is not configured on this server; "
                "ask an admin to grant credits."
            )
        if not profile.default_payment_method:
            raise DomainError(
                "Auto-reload needs a saved card: make a top-up first, and its card is kept."
            )
        if settings.threshold_pico < 0:
            raise FieldError("threshold", "The threshold cannot be negative.")
        if settings.target_pico <= settings.threshold_pico:
            raise FieldError("target", "The target must be above the threshold.")
        if settings.target_pico > MAX_TOPUP_USD * 10**12:
            raise FieldError("target", f"The target can be at most ${MAX_TOPUP_USD:,}.")
        if settings.monthly_max_pico < settings.target_pico - settings.threshold_pico:
            raise FieldError(
                "monthly_max",
                "The monthly maximum must allow at least one reload (target minus threshold).",
            )
    before = _settings_of(profile)
    profile.autoreload_enabled = settings.enabled
    if settings.enabled:
        profile.autoreload_threshold_pico = settings.threshold_pico
        profile.autoreload_target_pico = settings.target_pico
        profile.autoreload_monthly_max_pico = settings.monthly_max_pico
    with transaction.atomic():
        profile.save(
            update_fields=[
                "autoreload_enabled",
                "autoreload_threshold_pico",
                "autoreload_target_pico",
                "autoreload_monthly_max_pico",
            ]
        )
        audit_record(
            actor=actor,
            action="autoreload_update",
            target=f"organization:{organization.pk}",
            organization=organization,
            before=before,
            after=_settings_of(profile),
        )
    return profile


def _settings_of(profile: BillingProfile) -> dict:
    return {
        "enabled": profile.autoreload_enabled,
        "threshold_pico": profile.autoreload_threshold_pico,
        "target_pico": profile.autoreload_target_pico,
        "monthly_max_pico": profile.autoreload_monthly_max_pico,
    }


def autoreload_failed(*, organization_id: int) -> None:
    BillingProfile.objects.filter(organization_id=organization_id).update(autoreload_enabled=False)


def autoreload_check() -> list[int]:
    """Charges each organization whose auto-reload is due; returns the top-ups started."""
    if not enabled():
        return []
    started = []
    profiles = BillingProfile.objects.filter(autoreload_enabled=True).exclude(
        default_payment_method=""
    )
    for organization_id in profiles.values_list("organization_id", flat=True):
        topup_id = autoreload_charge(organization_id=organization_id)
        if topup_id:
            started.append(topup_id)
    return started


def autoreload_charge(*, organization_id: int) -> int | None:
    """One organization: starts an auto-reload if due (or finishes one whose charge was
    never answered); returns its top-up id."""
    topup, key = _due(organization_id)
    if topup is None:
        return None
    profile = BillingProfile.objects.get(organization_id=organization_id)
    try:
        intent = stripe_client().v1.payment_intents.create(
            params={
                "amount": cents(topup.amount_pico),
                "currency": "usd",
                "customer": profile.stripe_customer_id,
                "payment_method": profile.default_payment_method,
                "off_session": True,
                "confirm": True,
                "metadata": {
                    "kind": "autoreload",
                    "topup_id": str(topup.pk),
                    "organization_id": str(organization_id),
                },
            },
            options=idempotent(key),
        )
    except stripe.CardError as exc:
        logger.info("auto-reload of organization %s declined: %s", organization_id, exc)
        topup_failed(topup_id=topup.pk)
        autoreload_failed(organization_id=organization_id)
        return topup.pk
    except stripe.StripeError:
        # Unanswered: the top-up stays pending without its payment, and the next check
        # asks again with the same key, so Stripe charges at most once.
        logger.exception("auto-reload of organization %s: Stripe did not answer", organization_id)
        return topup.pk
    with transaction.atomic():
        locked = TopUp.objects.select_for_update().get(pk=topup.pk)
        if topup_link(topup=locked, payment_intent_id=intent.id):
            from billing.stripe.webhooks import events_waiting_apply

            events_waiting_apply(payment_intent_id=intent.id)
    if intent.status == "succeeded":
        # The same credit the webhook gives (one external id), so whichever comes first.
        topup_credit(topup_id=topup.pk, reason=f"auto-reload {intent.id}")
    elif intent.status in ("requires_action", "requires_payment_method", "canceled"):
        # Off-session, nobody can authenticate the card: the owner tops up by hand.
        topup_failed(topup_id=topup.pk)
        autoreload_failed(organization_id=organization_id)
    return topup.pk


def _due(organization_id: int) -> tuple[TopUp | None, str]:
    """Under the profile's row lock: the pending auto-reload to (re)send, or a new one if
    the balance is below the threshold and the month's maximum allows it."""
    from django.utils import timezone

    now = timezone.now()
    period = period_of(now)
    start, end = period_bounds(period)
    with transaction.atomic():
        profile = BillingProfile.objects.select_for_update().get(organization_id=organization_id)
        if not profile.autoreload_enabled or not profile.default_payment_method:
            return None, ""
        month = TopUp.objects.filter(
            organization_id=organization_id,
            kind="autoreload",
            created_at__gte=start,
            created_at__lt=end,
        )
        pending = month.filter(status=TopUpStatus.PENDING).order_by("id").first()
        if pending is not None:
            if pending.payment_intent_id or pending.created_at > now - RESEND_AFTER:
                # charged (its webhook will credit it), or being charged right now
                return None, ""
            return pending, _key(organization_id, period, month.filter(id__lte=pending.pk).count())
        balance = organization_balance(organization_id=organization_id)
        if balance >= profile.autoreload_threshold_pico:
            return None, ""
        amount = profile.autoreload_target_pico - balance
        amount -= amount % 10**10  # whole cents
        spent = month.filter(status__in=COUNTED).aggregate(s=Sum("amount_pico"))["s"] or 0
        if amount <= 0 or spent + amount > profile.autoreload_monthly_max_pico:
            if amount > 0:
                logger.info(
                    "auto-reload of organization %s: %s would pass the monthly maximum",
                    organization_id,
                    format_usd(amount),
                )
            return None, ""
        topup = TopUp.objects.create(
            organization_id=organization_id, amount_pico=amount, kind="autoreload"
        )
        return topup, _key(organization_id, period, month.count())


def _key(organization_id: int, period: str, n: int) -> str:
    return f"autoreload-{organization_id}-{period}-{n}"
