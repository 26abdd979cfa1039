"""Flat-plan fees as Stripe invoices: stripe_invoice_push against localstripe, idempotent,
and Stripe's invoice.paid bringing the payment back."""

from datetime import UTC, datetime

import pytest
import stripe
from django.test import Client

from accounts.money import PICO_PER_USD
from billing.models import BillingProfile, Invoice, InvoiceLine, InvoiceStatus
from billing.stripe.invoices import stripe_invoice_push
from billing.tasks import stripe_invoice_push as stripe_invoice_push_task
from tests.billing.stripe.doubles import SECRET_KEY, event, signed

pytestmark = pytest.mark.django_db

USD = PICO_PER_USD


def finalized_invoice(org, lines: list[tuple[str, int]], status=InvoiceStatus.FINALIZED):
    invoice = Invoice.objects.create(
        organization=org,
        period="2026-11",
        period_start=datetime(2026, 11, 1, tzinfo=UTC),
        period_end=datetime(2026, 12, 1, tzinfo=UTC),
        plan="team",
        status=status,
        number="INV-000007",
        total_pico=sum(amount for _, amount in lines),
    )
    for position, (kind, amount) in enumerate(lines):
        InvoiceLine.objects.create(
            invoice=invoice,
            position=position,
            kind=kind,
            description=f"{kind} line",
            quantity=1,
            amount_pico=amount,
        )
    return invoice


FLAT = [
    ("plan_fee", 99 * USD),
    ("usage", 12_345_678_000_000),  # $12.345678
    ("included", -10 * USD),
]


def sdk(double) -> stripe.StripeClient:
    return stripe.StripeClient(SECRET_KEY, base_addresses={"api": double.url})


def stripe_invoices(double, customer: str) -> list:
    return list(sdk(double).v1.invoices.list(params={"customer": customer}).data)


def test_push_creates_a_finalized_stripe_invoice_once(tenancy, stripe_on):
    invoice = finalized_invoice(tenancy.org, FLAT)
    stripe_id = stripe_invoice_push(invoice_id=invoice.pk)
    assert stripe_id.startswith("in_")
    invoice.refresh_from_db()
    assert invoice.stripe_invoice_id == stripe_id

    customer = BillingProfile.objects.get(organization=tenancy.org).stripe_customer_id
    (pushed,) = stripe_invoices(stripe_on, customer)
    assert pushed.id == stripe_id
    assert pushed.status == "open"  # finalized: numbered at Stripe and due
    assert pushed.total == 10135  # $99 + $12.35 - $10, the amount due to the cent
    assert pushed.metadata.to_dict() == {"invoice_id": str(invoice.pk), "number": "INV-000007"}
    assert pushed.collection_method == "send_invoice"  # no card saved: Stripe emails it

    # the push again, through the Celery task: nothing new at Stripe
    assert stripe_invoice_push_task.delay(invoice.pk).get() == stripe_id
    assert [i.id for i in stripe_invoices(stripe_on, customer)] == [stripe_id]

    posts = [(r["path"], r["key"]) for r in stripe_on.requests() if r["method"] == "POST"]
    lines = list(invoice.lines.values_list("pk", flat=True))
    assert posts == [
        ("/v1/customers", f"customer-{tenancy.org.pk}"),
        *[("/v1/invoiceitems", f"invoice-{invoice.pk}-item-{pk}") for pk in lines],
        ("/v1/invoices", f"invoice-{invoice.pk}"),
        (f"/v1/invoices/{stripe_id}/finalize", f"invoice-{invoice.pk}-finalize"),
    ]


def test_a_push_whose_answer_was_lost_makes_no_second_invoice(tenancy, stripe_on):
    """The worker died after Stripe made the invoice but before we stored its id: the
    retry's requests carry the same keys, so Stripe answers with the same objects."""
    invoice = finalized_invoice(tenancy.org, FLAT)
    first = stripe_invoice_push(invoice_id=invoice.pk)
    Invoice.objects.filter(pk=invoice.pk).update(stripe_invoice_id="")
    second = stripe_invoice_push(invoice_id=invoice.pk)
    assert second == first
    customer = BillingProfile.objects.get(organization=tenancy.org).stripe_customer_id
    assert len(stripe_invoices(stripe_on, customer)) == 1
    items = sdk(stripe_on).v1.invoice_items.list(params={"customer": customer}).data
    assert items == []  # every item went on that one invoice; none left pending


def test_rounding_to_the_cent_makes_stripe_ask_for_exactly_the_amount_due(tenancy, stripe_on):
    lines = [("plan_fee", 20 * USD), ("usage", 4 * 10**9), ("usage", 4 * 10**9)]  # 0.4¢ each
    invoice = finalized_invoice(tenancy.org, lines)
    stripe_id = stripe_invoice_push(invoice_id=invoice.pk)
    assert sdk(stripe_on).v1.invoices.retrieve(stripe_id).total == 2001  # $20.008 -> $20.01


def test_a_card_on_file_is_charged_automatically(tenancy, stripe_on):
    invoice = finalized_invoice(tenancy.org, FLAT)
    client = sdk(stripe_on)
    customer = client.v1.customers.create(params={"name": "a"})
    card = stripe_on.card(customer.id)
    BillingProfile.objects.create(
        organization=tenancy.org, stripe_customer_id=customer.id, default_payment_method=card
    )
    stripe_id = stripe_invoice_push(invoice_id=invoice.pk)
    assert client.v1.invoices.retrieve(stripe_id).collection_method == "charge_automatically"


@pytest.mark.parametrize(
    "status, lines",
    [
        (InvoiceStatus.IN_REVIEW, FLAT),  # not finalized yet
        (InvoiceStatus.FINALIZED, [("usage", 5 * USD), ("credits_applied", -5 * USD)]),  # 0 due
    ],
)
def test_nothing_is_pushed_without_a_finalized_amount_due(tenancy, stripe_on, status, lines):
    invoice = finalized_invoice(tenancy.org, lines, status=status)
    assert stripe_invoice_push(invoice_id=invoice.pk) == ""
    assert [r for r in stripe_on.requests() if r["method"] == "POST"] == []


def test_with_stripe_off_a_push_does_nothing(tenancy):
    invoice = finalized_invoice(tenancy.org, FLAT)
    assert stripe_invoice_push(invoice_id=invoice.pk) == ""
    invoice.refresh_from_db()
    assert invoice.stripe_invoice_id == ""


def test_invoice_paid_at_stripe_marks_ours_paid_once(tenancy, stripe_on):
    invoice = finalized_invoice(tenancy.org, FLAT)
    stripe_id = stripe_invoice_push(invoice_id=invoice.pk)
    paid = sdk(stripe_on).v1.invoices.retrieve(stripe_id).to_dict()
    ev = event("invoice.paid", paid)
    for _ in range(2):
        body, signature = signed(ev)
        response = Client().post(
            "/stripe/webhook/",
            body,
            content_type="application/json",
            HTTP_STRIPE_SIGNATURE=signature,
        )
        assert response.status_code == 200
    invoice.refresh_from_db()
    assert (invoice.status, invoice.paid_via) == ("paid", "stripe")
    assert invoice.paid_at is not None


def test_invoice_paid_for_an_invoice_we_did_not_push_changes_nothing(tenancy):
    invoice = finalized_invoice(tenancy.org, FLAT)
    Invoice.objects.filter(pk=invoice.pk).update(stripe_invoice_id="in_ours")
    ev = event(
        "invoice.paid",
        {
            "id": "in_someone_elses",
            "object": "invoice",
            "metadata": {"invoice_id": str(invoice.pk)},
        },
    )
    body, signature = signed(ev)
    Client().post(
        "/stripe/webhook/", body, content_type="application/json", HTTP_STRIPE_SIGNATURE=signature
    )
    invoice.refresh_from_db()
    assert invoice.status == "finalized"


def test_finalizing_a_flat_invoice_pushes_it_and_stripes_payment_closes_it(stripe_on):
    """The whole path: reconcile a flat plan's month, finalize it (billing.invoices sends
    the push on commit), Stripe's invoice asks for what credit did not cover, and its
    invoice.paid marks ours paid."""
    from datetime import timedelta

    from django.test import TestCase

    from billing.invoices.reconcile import reconcile
    from billing.invoices.review import invoice_finalize
    from billing.services import credits_grant
    from tests.billing.invoices.helpers import NOW, OCT, flat_plan, make_org, put_on

    org = make_org("flat-co")
    put_on(org, flat_plan("pro", fee=30 * USD, included=0), OCT - timedelta(days=5))
    credits_grant(organization=org, amount_pico=10 * USD, reason="start")
    reconcile(period="2026-10", now=NOW)
    with TestCase.captureOnCommitCallbacks(execute=True):
        invoice = invoice_finalize(
            invoice=Invoice.objects.get(organization=org), actor=None, now=NOW
        )
    invoice.refresh_from_db()
    assert invoice.status == "finalized" and invoice.stripe_invoice_id
    pushed = sdk(stripe_on).v1.invoices.retrieve(invoice.stripe_invoice_id)
    assert (pushed.status, pushed.total) == ("open", 2000)  # $30 fee - $10 from credit

    body, signature = signed(event("invoice.paid", pushed.to_dict()))
    Client().post(
        "/stripe/webhook/", body, content_type="application/json", HTTP_STRIPE_SIGNATURE=signature
    )
    invoice.refresh_from_db()
    assert (invoice.status, invoice.paid_via) == ("paid", "stripe")
