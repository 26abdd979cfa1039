"""Stripe's webhooks: verified by signature, stored by event id (unique), applied once
through a table of one handler per event type (Lago's handle_incoming_webhook).

Credit is given only on `checkout.session.completed` with `payment_status: "paid"`, on
`checkout.session.async_payment_succeeded`, and on an auto-reload's
`payment_intent.succeeded`; never on the buyer's redirect back, and never on
`status: "complete"` alone (New API's bug: a session completes unpaid for delayed
methods). An event about a payment we cannot place yet (a refund that overtook its
session's completion) waits, unprocessed, and is applied when the payment is placed."""

import json
import logging
from collections.abc import Callable
from enum import Enum

import stripe
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.errors import DomainError
from billing.models import Invoice, StripeEvent, TopUp
from billing.stripe import enabled
from billing.stripe.autoreload import autoreload_failed
from billing.stripe.client import cents, pico, stripe_client
from billing.stripe.topups import (
    card_remember,
    topup_credit,
    topup_failed,
    topup_link,
    topup_restore,
    topup_reverse,
)

logger = logging.getLogger(__name__)

WAITING = "waiting for its top-up: "


class WebhookRefused(DomainError):
    """400: not a genuine Stripe event (bad signature, malformed body)."""


class Outcome(Enum):
    APPLIED = "applied"
    IGNORED = "ignored"  # not ours, or nothing to do
    WAITING = "waiting"  # ours, but its top-up is not known yet


Handler = Callable[[dict], Outcome]


def event_receive(*, payload: bytes, signature: str | None) -> str:
    """Verifies, stores and applies one webhook delivery; returns what happened
    ("applied", "ignored", "waiting", "duplicate"). WebhookRefused when it isn't Stripe's."""
    secret = settings.STRIPE_WEBHOOK_SECRET
    if not secret:
        raise WebhookRefused("Stripe webhooks are not configured on this server.")
    if not signature:
        raise WebhookRefused("The Stripe-Signature header is missing.")
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        raise WebhookRefused("The body is not a Stripe event.") from None
    try:
        # What stripe.Webhook.construct_event checks, without its parse, which raises
        # AttributeError on a signed body that is JSON but not an object.
        stripe.WebhookSignature.verify_header(
            text, signature, secret, stripe.Webhook.DEFAULT_TOLERANCE
        )
    except stripe.SignatureVerificationError:
        raise WebhookRefused("The Stripe signature does not match this payload.") from None
    try:
        event = json.loads(text)
        event_id, event_type = str(event["id"]), str(event["type"])
        obj = event["data"]["object"]
        if not isinstance(obj, dict):
            raise TypeError
    except (ValueError, KeyError, TypeError):
        raise WebhookRefused("The body is not a Stripe event.") from None
    return event_apply(event_id=event_id, event_type=event_type, payload=event)


def event_apply(*, event_id: str, event_type: str, payload: dict) -> str:
    """Applies the event once, by its id: a redelivery (or a racing twin) finds its row."""
    with transaction.atomic():
        try:
            with transaction.atomic():
                event = StripeEvent.objects.create(
                    event_id=event_id[:100], type=event_type[:80], payload=payload
                )
        except IntegrityError:
            event = StripeEvent.objects.select_for_update().get(event_id=event_id[:100])
            if event.processed_at is not None or event.error.startswith(WAITING):
                return "duplicate"
        return _run(event).value


def _run(event: StripeEvent) -> Outcome:
    handler = HANDLERS.get(event.type, _ignore)
    outcome = handler(event.payload["data"]["object"])
    if outcome is Outcome.WAITING:
        event.error = WAITING + _payment_intent_of(event.payload["data"]["object"])
        event.save(update_fields=["error"])
    else:
        event.processed_at = timezone.now()
        event.error = ""
        event.save(update_fields=["processed_at", "error"])
    return outcome


def events_waiting_apply(*, payment_intent_id: str) -> None:
    """Applies the events that were waiting for this payment's top-up."""
    waiting = StripeEvent.objects.select_for_update().filter(
        processed_at=None, error=WAITING + payment_intent_id
    )
    for event in waiting.order_by("id"):
        _run(event)


# --- finding the top-up an object is about ---------------------------------------------


def _payment_intent_of(obj: dict) -> str:
    value = obj.get("payment_intent")
    if isinstance(value, dict):  # expanded
        value = value.get("id")
    return value or ""


def _topup_of_metadata(obj: dict) -> TopUp | None:
    metadata = obj.get("metadata") or {}
    try:
        topup_id = int(metadata.get("topup_id") or obj.get("client_reference_id") or 0)
    except (TypeError, ValueError):
        return None
    topup = TopUp.objects.filter(pk=topup_id).first() if topup_id else None
    if topup is None:
        return None
    org = metadata.get("organization_id")
    if org is not None and str(org) != str(topup.organization_id):
        logger.warning("Stripe object %s names top-up %s of another organization", obj, topup_id)
        return None
    return topup


def _topup_of_payment(obj: dict) -> TopUp | None:
    payment_intent = _payment_intent_of(obj)
    if payment_intent:
        topup = TopUp.objects.filter(payment_intent_id=payment_intent).first()
        if topup is not None:
            return topup
    return _topup_of_metadata(obj)


def _link(topup: TopUp, payment_intent_id: str) -> None:
    with transaction.atomic():
        topup = TopUp.objects.select_for_update().get(pk=topup.pk)
        if topup_link(topup=topup, payment_intent_id=payment_intent_id):
            events_waiting_apply(payment_intent_id=payment_intent_id)


def _amount_matches(topup: TopUp, obj: dict, field: str) -> bool:
    paid = obj.get(field)
    currency = (obj.get("currency") or "usd").lower()
    if paid is None:
        return True
    if currency != "usd" or int(paid) != cents(topup.amount_pico):
        logger.error(
            "Stripe says top-up %s paid %s %s, not %s cents; not credited",
            topup.pk,
            paid,
            currency,
            cents(topup.amount_pico),
        )
        return False
    return True


# --- handlers, one per event type ------------------------------------------------------


def _ignore(obj: dict) -> Outcome:
    return Outcome.IGNORED


def session_completed(obj: dict) -> Outcome:
    """Completed is not paid: delayed methods complete first and pay (or fail) later."""
    topup = _topup_of_metadata(obj)
    if topup is None:
        return Outcome.IGNORED
    _link(topup, _payment_intent_of(obj))
    if obj.get("payment_status") == "paid" and _amount_matches(topup, obj, "amount_total"):
        topup_credit(topup_id=topup.pk, reason=f"Stripe Checkout {obj.get('id', '')}")
    return Outcome.APPLIED


def session_async_succeeded(obj: dict) -> Outcome:
    topup = _topup_of_metadata(obj)
    if topup is None:
        return Outcome.IGNORED
    _link(topup, _payment_intent_of(obj))
    if _amount_matches(topup, obj, "amount_total"):
        topup_credit(topup_id=topup.pk, reason=f"Stripe Checkout {obj.get('id', '')}, settled")
    return Outcome.APPLIED


def session_async_failed(obj: dict) -> Outcome:
    topup = _topup_of_metadata(obj)
    if topup is None:
        return Outcome.IGNORED
    _link(topup, _payment_intent_of(obj))
    topup_failed(topup_id=topup.pk)
    return Outcome.APPLIED


def session_expired(obj: dict) -> Outcome:
    topup = _topup_of_metadata(obj)
    if topup is None:
        return Outcome.IGNORED
    topup_failed(topup_id=topup.pk, expired=True)
    return Outcome.APPLIED


def payment_intent_succeeded(obj: dict) -> Outcome:
    """An auto-reload's payment credits (once); a Checkout's only keeps its card (its
    credit comes from the session's events)."""
    topup = _topup_of_metadata(obj)
    if topup is None:
        return Outcome.IGNORED
    _link(topup, obj.get("id") or "")
    kind = (obj.get("metadata") or {}).get("kind")
    if kind == "autoreload" and topup.kind == "autoreload":
        if _amount_matches(topup, obj, "amount_received"):
            topup_credit(topup_id=topup.pk, reason=f"auto-reload {obj.get('id', '')}")
    elif obj.get("setup_future_usage") == "off_session":
        payment_method = obj.get("payment_method")
        if isinstance(payment_method, dict):
            payment_method = payment_method.get("id")
        card_remember(
            organization_id=topup.organization_id,
            customer_id=obj.get("customer") or "",
            payment_method_id=payment_method or "",
        )
    return Outcome.APPLIED


def payment_intent_failed(obj: dict) -> Outcome:
    """An auto-reload that failed turns auto-reload off, so a declined card is not tried
    every minute; the owner turns it on again from the billing page."""
    topup = _topup_of_metadata(obj)
    if topup is None or topup.kind != "autoreload":
        return Outcome.IGNORED
    _link(topup, obj.get("id") or "")
    topup_failed(topup_id=topup.pk)
    autoreload_failed(organization_id=topup.organization_id)
    return Outcome.APPLIED


def _refund_apply(topup: TopUp, refund: dict) -> None:
    refund_id = refund.get("id") or ""
    if not refund_id:
        return
    status = refund.get("status") or "succeeded"
    topup_reverse(
        topup_id=topup.pk,
        fact=f"refund:{refund_id}",
        amount_pico=pico(refund.get("amount") or 0),
        reason=f"Refund {refund_id} of a top-up",
    )
    if status in ("failed", "canceled"):
        topup_restore(
            topup_id=topup.pk,
            fact=f"refund-failed:{refund_id}",
            of_fact=f"refund:{refund_id}",
            reason=f"Refund {refund_id} {status}: credit given back",
        )


def charge_refunded(obj: dict) -> Outcome:
    """Each refund of the charge reverses its own amount, once (by refund id), so the
    event for a second partial refund takes only the second."""
    topup = _topup_of_payment(obj)
    if topup is None:
        return Outcome.WAITING if _payment_intent_of(obj) else Outcome.IGNORED
    refunds = obj.get("refunds") if isinstance(obj.get("refunds"), dict) else None
    data = list((refunds or {}).get("data") or [])
    if (refunds is None or refunds.get("has_more")) and enabled() and obj.get("id"):
        # Since API 2022-11-15 a charge's refunds are not in the payload: ask for them.
        listed = stripe_client().v1.refunds.list(params={"charge": obj["id"], "limit": 100})
        data = [refund.to_dict() for refund in listed.auto_paging_iter()]
    for refund in data:
        _refund_apply(topup, refund)
    return Outcome.APPLIED


def refund_changed(obj: dict) -> Outcome:
    topup = _topup_of_payment(obj)
    if topup is None:
        return Outcome.WAITING if _payment_intent_of(obj) else Outcome.IGNORED
    _refund_apply(topup, obj)
    return Outcome.APPLIED


def dispute_changed(obj: dict) -> Outcome:
    """A dispute takes its amount back as soon as it is seen (any of its events, in any
    order); one closed as won gives exactly that back. An inquiry (warning_*) moves no
    money, so it reverses nothing."""
    topup = _topup_of_payment(obj)
    if topup is None:
        return Outcome.WAITING if _payment_intent_of(obj) else Outcome.IGNORED
    dispute_id = obj.get("id") or ""
    status = obj.get("status") or ""
    if not dispute_id or status.startswith("warning_"):
        return Outcome.IGNORED
    topup_reverse(
        topup_id=topup.pk,
        fact=f"dispute:{dispute_id}",
        amount_pico=pico(obj.get("amount") or 0),
        reason=f"Dispute {dispute_id} of a top-up",
    )
    if status == "won":
        topup_restore(
            topup_id=topup.pk,
            fact=f"dispute-won:{dispute_id}",
            of_fact=f"dispute:{dispute_id}",
            reason=f"Dispute {dispute_id} won: credit given back",
        )
    return Outcome.APPLIED


def invoice_paid(obj: dict) -> Outcome:
    """A flat-plan invoice we pushed (stripe_invoice_push) was paid at Stripe."""
    from billing.stripe.invoices import invoice_paid_at_stripe

    invoice = None
    try:
        invoice_id = int((obj.get("metadata") or {}).get("invoice_id") or 0)
    except (TypeError, ValueError):
        invoice_id = 0
    if invoice_id:
        invoice = Invoice.objects.filter(pk=invoice_id).first()
    if invoice is None and obj.get("id"):
        invoice = Invoice.objects.filter(stripe_invoice_id=obj["id"]).first()
    if invoice is None:
        return Outcome.IGNORED
    invoice_paid_at_stripe(invoice=invoice, stripe_invoice_id=obj.get("id") or "")
    return Outcome.APPLIED


HANDLERS: dict[str, Handler] = {
    "checkout.session.completed": session_completed,
    "checkout.session.async_payment_succeeded": session_async_succeeded,
    "checkout.session.async_payment_failed": session_async_failed,
    "checkout.session.expired": session_expired,
    "payment_intent.succeeded": payment_intent_succeeded,
    "payment_intent.payment_failed": payment_intent_failed,
    "charge.refunded": charge_refunded,
    "refund.created": refund_changed,
    "refund.updated": refund_changed,
    "refund.failed": refund_changed,
    "charge.refund.updated": refund_changed,
    "charge.dispute.created": dispute_changed,
    "charge.dispute.updated": dispute_changed,
    "charge.dispute.closed": dispute_changed,
    "charge.dispute.funds_withdrawn": dispute_changed,
    "charge.dispute.funds_reinstated": dispute_changed,
    "invoice.paid": invoice_paid,
}
