"""Credit bought through Stripe: a Checkout top-up started, then what Stripe tells us about
its money (paid, refunded, disputed, won back) turned into ledger entries.

Every entry of a top-up is keyed by an external id, so the same fact seen twice (a
redelivered event, a second path to the same payment) writes nothing more:
  "topup:<id>"                      the credit, once, whichever event proved payment;
  "topup:<id>:refund:<re_…>"        minus a refund;
  "topup:<id>:refund-failed:<re_…>" a failed refund given back;
  "topup:<id>:dispute:<dp_…>"       minus a disputed amount;
  "topup:<id>:dispute-won:<dp_…>"   a won dispute given back.
The status is derived from those entries, never from the order events came in."""

from decimal import Decimal, InvalidOperation

import stripe
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from accounts.errors import DomainError, FieldError
from accounts.models import Organization, User
from accounts.money import PICO_PER_USD, format_usd
from billing.audit import audit_record
from billing.models import BillingProfile, CreditLedgerEntry, LedgerKind, TopUp
from billing.models.payments import TopUpStatus
from billing.services import ledger_write
from billing.stripe import StripeOff, enabled
from billing.stripe.client import cents, idempotent, stripe_client

MIN_TOPUP_USD = Decimal(1)
MAX_TOPUP_USD = Decimal(10_000)
CURRENCY = "usd"


class StripeUnavailable(DomainError):
    code = "stripe_unavailable"
    status = 502


def topup_amount_pico(amount_usd: object, *, field: str = "amount_usd") -> int:
    """A top-up's amount: whole cents from $1 to $10,000; FieldError otherwise."""
    try:
        amount = Decimal(str(amount_usd).strip())
    except (InvalidOperation, ValueError):
        raise FieldError(field, "Give the amount in USD, like 20 or 12.50.") from None
    if not amount.is_finite() or amount != amount.quantize(Decimal("0.01")):
        raise FieldError(field, "Give the amount in USD to the cent, like 12.50.")
    if not MIN_TOPUP_USD <= amount <= MAX_TOPUP_USD:
        raise FieldError(
            field,
            f"A top-up is between ${MIN_TOPUP_USD:,} and ${MAX_TOPUP_USD:,}; "
            "choose an amount in that range.",
        )
    return int(amount * PICO_PER_USD)


def customer_ensure(*, organization: Organization, client: stripe.StripeClient) -> BillingProfile:
    """The organization's billing profile with its Stripe customer, created once."""
    profile, _ = BillingProfile.objects.get_or_create(organization=organization)
    if profile.stripe_customer_id:
        return profile
    customer = client.v1.customers.create(
        params={
            "name": organization.name,
            "metadata": {"organization_id": str(organization.pk)},
        },
        options=idempotent(f"customer-{organization.pk}"),
    )
    BillingProfile.objects.filter(pk=profile.pk, stripe_customer_id="").update(
        stripe_customer_id=customer.id
    )
    profile.refresh_from_db()
    return profile


def topup_start(
    *,
    organization: Organization,
    amount_pico: int,
    actor: User | None,
    portal_url: str,
) -> str:
    """Creates a TopUp and its Checkout Session; returns the session's URL to send the
    buyer to. Credit comes later, only from Stripe's webhook (never from the redirect
    back to `portal_url`). StripeOff (409) without Stripe; FieldError for a bad amount."""
    if not enabled():
        raise StripeOff()
    if amount_pico % 10**10 or not (
        MIN_TOPUP_USD * PICO_PER_USD <= amount_pico <= MAX_TOPUP_USD * PICO_PER_USD
    ):
        topup_amount_pico(Decimal(amount_pico).scaleb(-12))  # raises the sentence
    client = stripe_client()
    topup = None
    try:
        profile = customer_ensure(organization=organization, client=client)
        topup = TopUp.objects.create(
            organization=organization, amount_pico=amount_pico, kind="checkout", created_by=actor
        )
        metadata = {"topup_id": str(topup.pk), "organization_id": str(organization.pk)}
        session = client.v1.checkout.sessions.create(
            params={
                "mode": "payment",
                "customer": profile.stripe_customer_id,
                "client_reference_id": str(topup.pk),
                "line_items": [
                    {
                        "quantity": 1,
                        "price_data": {
                            "currency": CURRENCY,
                            "unit_amount": cents(amount_pico),
                            "product_data": {"name": f"Credit for {organization.name}"},
                        },
                    }
                ],
                "metadata": metadata,
                "payment_intent_data": {
                    "metadata": {**metadata, "kind": "checkout"},
                    # The card is kept for auto-reload (BillingProfile.default_payment_method).
                    "setup_future_usage": "off_session",
                },
                "success_url": f"{portal_url}?topup=done",
                "cancel_url": f"{portal_url}?topup=cancelled",
            },
            options=idempotent(f"topup-{topup.pk}"),
        )
    except stripe.StripeError as exc:
        if topup is not None:  # no session: nothing can ever pay it
            TopUp.objects.filter(pk=topup.pk).update(status=TopUpStatus.FAILED)
        raise StripeUnavailable(
            f"Stripe refused or did not answer ({exc.user_message or type(exc).__name__}); "
            "try again in a minute."
        ) from exc
    TopUp.objects.filter(pk=topup.pk).update(checkout_session_id=session.id)
    audit_record(
        actor=actor,
        action="topup_start",
        target=f"topup:{topup.pk}",
        organization=organization,
        after={"amount_pico": amount_pico, "checkout_session_id": session.id},
    )
    return session.url


# --- facts from Stripe -------------------------------------------------------------------


def _locked(topup_id: int) -> TopUp:
    return TopUp.objects.select_for_update().get(pk=topup_id)


def topup_link(*, topup: TopUp, payment_intent_id: str) -> bool:
    """Records which PaymentIntent paid the top-up; True when that is new (so events
    about it that arrived first can now be applied). Call inside a transaction."""
    if not payment_intent_id or topup.payment_intent_id == payment_intent_id:
        return False
    if topup.payment_intent_id:
        return False  # the first payment we saw keeps the top-up; Stripe makes one per session
    topup.payment_intent_id = payment_intent_id
    topup.save(update_fields=["payment_intent_id"])
    return True


def topup_credit(*, topup_id: int, reason: str) -> bool:
    """Credits the top-up's amount once, ever (external id "topup:<id>"); True if this
    call wrote it."""
    with transaction.atomic():
        topup = _locked(topup_id)
        entry = ledger_write(
            organization_id=topup.organization_id,
            amount_pico=topup.amount_pico,
            reason=f"Top-up {format_usd(topup.amount_pico)} ({reason})",
            kind=LedgerKind.TOPUP,
            external_id=f"topup:{topup.pk}",
        )
        if topup.paid_at is None:
            topup.paid_at = timezone.now()
            topup.save(update_fields=["paid_at"])
        topup_status_refresh(topup=topup)
        return entry is not None


def topup_reverse(*, topup_id: int, fact: str, amount_pico: int, reason: str) -> None:
    """Takes back `amount_pico` of the top-up for `fact` ("refund:re_…", "dispute:dp_…"),
    once; never more than the top-up's amount in all."""
    with transaction.atomic():
        topup = _locked(topup_id)
        room = topup.amount_pico - _reversed(topup)
        amount = max(0, min(amount_pico, room))
        if amount:
            ledger_write(
                organization_id=topup.organization_id,
                amount_pico=-amount,
                reason=reason,
                kind=LedgerKind.REVERSAL,
                external_id=f"topup:{topup.pk}:{fact}",
            )
        topup_status_refresh(topup=topup)


def topup_restore(*, topup_id: int, fact: str, of_fact: str, reason: str) -> None:
    """Gives back, once, exactly what the reversal `of_fact` took (a won dispute, a
    failed refund)."""
    with transaction.atomic():
        topup = _locked(topup_id)
        taken = CreditLedgerEntry.objects.filter(
            external_id=f"topup:{topup.pk}:{of_fact}"
        ).values_list("amount_pico", flat=True)
        amount = -sum(taken)
        if amount > 0:
            ledger_write(
                organization_id=topup.organization_id,
                amount_pico=amount,
                reason=reason,
                kind=LedgerKind.REVERSAL,
                external_id=f"topup:{topup.pk}:{fact}",
            )
        topup_status_refresh(topup=topup)


def topup_failed(*, topup_id: int, expired: bool = False) -> None:
    """The payment failed or the session expired: the top-up stays uncredited. A failure
    outranks an expiry, and a credit outranks both, whatever order they arrive in."""
    with transaction.atomic():
        topup = _locked(topup_id)
        if topup.status == TopUpStatus.PENDING or (
            topup.status == TopUpStatus.EXPIRED and not expired
        ):
            topup.status = TopUpStatus.EXPIRED if expired else TopUpStatus.FAILED
            topup.save(update_fields=["status"])
        topup_status_refresh(topup=topup)


def _entries(topup: TopUp):
    return CreditLedgerEntry.objects.filter(external_id__startswith=f"topup:{topup.pk}:")


def _reversed(topup: TopUp) -> int:
    return -(_entries(topup).aggregate(s=Sum("amount_pico"))["s"] or 0)


def topup_status_refresh(*, topup: TopUp) -> None:
    """The status and refunded amount, derived from the top-up's ledger entries."""
    facts = dict(_entries(topup).values_list("external_id", "amount_pico"))
    prefix = f"topup:{topup.pk}:"
    refunded = -sum(
        amount
        for key, amount in facts.items()
        if key.startswith(prefix + "refund:") or key.startswith(prefix + "refund-failed:")
    )
    open_disputes = [
        key
        for key in facts
        if key.startswith(prefix + "dispute:")
        and key.replace(":dispute:", ":dispute-won:", 1) not in facts
    ]
    credited = CreditLedgerEntry.objects.filter(external_id=f"topup:{topup.pk}").exists()
    status = topup.status
    if credited:
        if open_disputes:
            status = TopUpStatus.DISPUTED
        elif -sum(facts.values()) >= topup.amount_pico:
            status = TopUpStatus.REFUNDED
        else:
            status = TopUpStatus.PAID
    elif status not in (TopUpStatus.FAILED, TopUpStatus.EXPIRED):
        status = TopUpStatus.PENDING
    if (status, refunded) != (topup.status, topup.refunded_pico):
        topup.status = status
        topup.refunded_pico = refunded
        topup.save(update_fields=["status", "refunded_pico"])


def card_remember(*, organization_id: int, customer_id: str, payment_method_id: str) -> None:
    """A card saved at Checkout (setup_future_usage) becomes the one auto-reload charges."""
    if not (customer_id and payment_method_id):
        return
    profile, _ = BillingProfile.objects.get_or_create(organization_id=organization_id)
    if profile.stripe_customer_id and profile.stripe_customer_id != customer_id:
        return  # not this organization's customer
    profile.stripe_customer_id = customer_id
    profile.default_payment_method = payment_method_id
    profile.save(update_fields=["stripe_customer_id", "default_payment_method"])
