"""POST /stripe/webhook/: signed events applied once by id. The top-ups are started and
paid through the real stripe SDK against the loopback double, and the events are the
objects it returns, signed with `stripe.WebhookSignature`."""

import json
import time

import pytest
import stripe
from django.test import Client

from accounts.money import PICO_PER_USD
from billing.models import CreditLedgerEntry, LedgerKind, StripeEvent, TopUp
from billing.services import organization_balance
from billing.stripe.topups import topup_start
from tests.billing.stripe.doubles import SECRET_KEY, event, signed

pytestmark = pytest.mark.django_db

USD = PICO_PER_USD


def deliver(ev: dict, secret: str | None = None):
    body, signature = signed(ev, *([secret] if secret else []))
    return Client().post(
        "/stripe/webhook/", body, content_type="application/json", HTTP_STRIPE_SIGNATURE=signature
    )


def sdk(double) -> stripe.StripeClient:
    return stripe.StripeClient(SECRET_KEY, base_addresses={"api": double.url})


def paid_topup(tenancy, double, usd: int = 50, delayed: bool = False) -> tuple[TopUp, dict]:
    """A top-up started by the service and paid at the double; returns the session."""
    topup_start(
        organization=tenancy.org,
        amount_pico=usd * USD,
        actor=tenancy.owner,
        portal_url="http://testserver/o/org-a/billing/",
    )
    topup = TopUp.objects.latest("id")
    customer = topup.organization.billing_profile.stripe_customer_id
    card = double.card(customer)
    double.pay_session(topup.checkout_session_id, card, delayed=delayed)
    session = sdk(double).v1.checkout.sessions.retrieve(topup.checkout_session_id).to_dict()
    return topup, session


def balance(tenancy) -> int:
    return organization_balance(organization_id=tenancy.org.pk)


def test_a_top_up_delivered_three_times_credits_once(tenancy, stripe_on):
    before = balance(tenancy)
    topup, session = paid_topup(tenancy, stripe_on, usd=50)
    assert balance(tenancy) == before  # paying (and the redirect back) credits nothing
    completed = event("checkout.session.completed", session)
    for _ in range(3):
        response = deliver(completed)
        assert response.status_code == 200
    assert balance(tenancy) == before + 50 * USD
    assert StripeEvent.objects.filter(event_id=completed["id"]).count() == 1
    (entry,) = CreditLedgerEntry.objects.filter(kind=LedgerKind.TOPUP)
    assert entry.external_id == f"topup:{topup.pk}"
    topup.refresh_from_db()
    assert topup.status == "paid" and topup.paid_at is not None
    assert topup.payment_intent_id == session["payment_intent"]

    # the same payment through its second path (another event id) adds nothing either
    deliver(event("checkout.session.async_payment_succeeded", session))
    assert balance(tenancy) == before + 50 * USD


def test_status_complete_with_payment_unpaid_credits_nothing(tenancy, stripe_on):
    """New API's bug: a delayed method completes the session before it pays."""
    before = balance(tenancy)
    topup, session = paid_topup(tenancy, stripe_on, usd=20, delayed=True)
    assert (session["status"], session["payment_status"]) == ("complete", "unpaid")
    assert deliver(event("checkout.session.completed", session)).json() == {"received": "applied"}
    assert balance(tenancy) == before
    topup.refresh_from_db()
    assert topup.status == "pending"

    # when the money settles, Stripe says so, and only then is it credited
    settled = {**session, "payment_status": "paid"}
    deliver(event("checkout.session.async_payment_succeeded", settled))
    assert balance(tenancy) == before + 20 * USD


def test_a_failed_delayed_payment_credits_nothing(tenancy, stripe_on):
    before = balance(tenancy)
    topup, session = paid_topup(tenancy, stripe_on, usd=20, delayed=True)
    deliver(event("checkout.session.completed", session))
    deliver(event("checkout.session.async_payment_failed", session))
    assert balance(tenancy) == before
    topup.refresh_from_db()
    assert topup.status == "failed"


def test_a_refund_through_the_sdk_then_its_webhook_reverses_the_credit(tenancy, stripe_on):
    before = balance(tenancy)
    topup, session = paid_topup(tenancy, stripe_on, usd=50)
    deliver(event("checkout.session.completed", session))
    client = sdk(stripe_on)
    intent = client.v1.payment_intents.retrieve(session["payment_intent"])
    refund = client.v1.refunds.create(
        params={"payment_intent": intent.id, "amount": 1250},
        options={"idempotency_key": f"test-refund-{topup.pk}"},
    )
    charge = client.v1.charges.retrieve(refund.charge).to_dict()
    assert charge["amount_refunded"] == 1250
    refunded = event("charge.refunded", charge)
    deliver(refunded)
    deliver(refunded)  # redelivered
    deliver(event("refund.created", refund.to_dict()))  # the same refund, another path
    assert balance(tenancy) == before + 50 * USD - 12_50 * USD // 100
    topup.refresh_from_db()
    assert (topup.status, topup.refunded_pico) == ("paid", 12_50 * USD // 100)
    (reversal,) = CreditLedgerEntry.objects.filter(kind=LedgerKind.REVERSAL)
    assert reversal.external_id == f"topup:{topup.pk}:refund:{refund.id}"

    # the rest refunded: a second refund, whose charge event lists both
    second = client.v1.refunds.create(
        params={"payment_intent": intent.id},
        options={"idempotency_key": f"test-refund-{topup.pk}-2"},
    )
    deliver(event("charge.refunded", client.v1.charges.retrieve(second.charge).to_dict()))
    assert balance(tenancy) == before
    topup.refresh_from_db()
    assert (topup.status, topup.refunded_pico) == ("refunded", 50 * USD)


def test_a_charge_event_without_its_refunds_asks_stripe_for_them(tenancy, stripe_on):
    """Since API 2022-11-15 a charge.refunded payload has no `refunds` list."""
    before = balance(tenancy)
    topup, session = paid_topup(tenancy, stripe_on, usd=50)
    deliver(event("checkout.session.completed", session))
    client = sdk(stripe_on)
    refund = client.v1.refunds.create(
        params={"payment_intent": session["payment_intent"], "amount": 500},
        options={"idempotency_key": f"test-refund-{topup.pk}"},
    )
    charge = client.v1.charges.retrieve(refund.charge).to_dict()
    del charge["refunds"]
    deliver(event("charge.refunded", charge))
    assert balance(tenancy) == before + 45 * USD


def test_a_dispute_takes_its_amount_and_a_won_one_gives_it_back(tenancy, stripe_on):
    before = balance(tenancy)
    topup, session = paid_topup(tenancy, stripe_on, usd=30)
    deliver(event("checkout.session.completed", session))
    dispute = {
        "id": "dp_test_1",
        "object": "dispute",
        "amount": 3000,
        "currency": "usd",
        "charge": "ch_whatever",
        "payment_intent": session["payment_intent"],
        "status": "needs_response",
    }
    deliver(event("charge.dispute.created", dispute))
    assert balance(tenancy) == before
    topup.refresh_from_db()
    assert topup.status == "disputed"
    deliver(event("charge.dispute.closed", {**dispute, "status": "won"}))
    deliver(event("charge.dispute.closed", {**dispute, "status": "won"}))  # another id
    assert balance(tenancy) == before + 30 * USD
    topup.refresh_from_db()
    assert topup.status == "paid"


def test_an_inquiry_moves_no_money(tenancy, stripe_on):
    before = balance(tenancy)
    _topup, session = paid_topup(tenancy, stripe_on, usd=30)
    deliver(event("checkout.session.completed", session))
    inquiry = {
        "id": "dp_test_2",
        "object": "dispute",
        "amount": 3000,
        "payment_intent": session["payment_intent"],
        "status": "warning_needs_response",
    }
    deliver(event("charge.dispute.created", inquiry))
    assert balance(tenancy) == before + 30 * USD


def test_a_forged_signature_gets_400_and_changes_nothing(tenancy, stripe_on):
    before = balance(tenancy)
    _topup, session = paid_topup(tenancy, stripe_on, usd=50)
    completed = event("checkout.session.completed", session)
    assert deliver(completed, secret="whsec_someone_else").status_code == 400

    body, signature = signed(completed)
    tampered = body.replace('"amount_total": 5000', '"amount_total": 500000')
    assert tampered != body
    response = Client().post(
        "/stripe/webhook/",
        tampered,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=signature,
    )
    assert response.status_code == 400
    missing = Client().post("/stripe/webhook/", body, content_type="application/json")
    assert missing.status_code == 400
    garbage = Client().post(
        "/stripe/webhook/", body, content_type="application/json", HTTP_STRIPE_SIGNATURE="t=1"
    )
    assert garbage.status_code == 400
    stale_time = int(time.time()) - 3600
    stale = stripe.WebhookSignature.generate_signature_header(
        body, "whsec_test_double", timestamp=stale_time
    )
    response = Client().post(
        "/stripe/webhook/", body, content_type="application/json", HTTP_STRIPE_SIGNATURE=stale
    )
    assert response.status_code == 400  # a replay outside Stripe's five-minute tolerance
    assert balance(tenancy) == before
    assert not StripeEvent.objects.exists()
    # the genuine one still works
    assert deliver(completed).status_code == 200
    assert balance(tenancy) == before + 50 * USD


@pytest.mark.parametrize("body", ["not json", "[]", '{"id": "evt_1"}', '{"data": 3}'])
def test_a_malformed_but_signed_body_gets_400(db, body):
    signature = stripe.WebhookSignature.generate_signature_header(body, "whsec_test_double")
    response = Client().post(
        "/stripe/webhook/", body, content_type="application/json", HTTP_STRIPE_SIGNATURE=signature
    )
    assert response.status_code == 400
    assert not StripeEvent.objects.exists()


def test_webhooks_unconfigured_are_refused(db, settings):
    settings.STRIPE_WEBHOOK_SECRET = ""
    body, signature = signed(event("checkout.session.completed", {"id": "cs_1"}))
    response = Client().post(
        "/stripe/webhook/", body, content_type="application/json", HTTP_STRIPE_SIGNATURE=signature
    )
    assert response.status_code == 400


def test_an_event_of_another_type_is_stored_and_ignored(db):
    ev = event("customer.created", {"id": "cus_1", "object": "customer"})
    assert deliver(ev).json() == {"received": "ignored"}
    stored = StripeEvent.objects.get(event_id=ev["id"])
    assert stored.processed_at is not None and stored.payload == json.loads(json.dumps(ev))


def test_an_amount_that_does_not_match_credits_nothing(tenancy, stripe_on):
    before = balance(tenancy)
    _topup, session = paid_topup(tenancy, stripe_on, usd=50)
    deliver(event("checkout.session.completed", {**session, "amount_total": 100}))
    assert balance(tenancy) == before


def test_metadata_naming_another_organizations_top_up_is_ignored(tenancy, stripe_on):
    _topup, session = paid_topup(tenancy, stripe_on, usd=50)
    before = balance(tenancy)
    forged = {**session, "metadata": {**session["metadata"], "organization_id": "999999"}}
    deliver(event("checkout.session.completed", forged))
    assert balance(tenancy) == before
