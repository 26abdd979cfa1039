"""Flat-plan fees as Stripe invoices: our finalized invoice pushed as a Stripe customer's
invoice (items for our lines, then the invoice, then its finalization), and Stripe's
word that it was paid brought back.

Each POST's Idempotency-Key names our invoice and line, so a push run twice, or twice at
once, asks Stripe for the same objects and gets one invoice; the Stripe invoice's id is
stored with a conditional UPDATE, so only one id is ever kept."""

import logging

import stripe

from billing.models import Invoice, InvoiceStatus
from billing.stripe import enabled
from billing.stripe.client import cents, idempotent, stripe_client
from billing.stripe.topups import customer_ensure

logger = logging.getLogger(__name__)

DAYS_UNTIL_DUE = 14


def stripe_invoice_push(*, invoice_id: int) -> str:
    """Pushes a finalized invoice with an amount due to Stripe; returns the Stripe
    invoice's id ("" when there is nothing to push: Stripe off, nothing due, not
    finalized)."""
    if not enabled():
        return ""
    invoice = Invoice.objects.select_related("organization").get(pk=invoice_id)
    if invoice.status != InvoiceStatus.FINALIZED or invoice.amount_due_pico <= 0:
        return invoice.stripe_invoice_id
    client = stripe_client()
    if not invoice.stripe_invoice_id:
        stripe_invoice = _create(client, invoice)
        Invoice.objects.filter(pk=invoice.pk, stripe_invoice_id="").update(
            stripe_invoice_id=stripe_invoice.id
        )
        invoice.refresh_from_db(fields=["stripe_invoice_id"])
    stripe_invoice = client.v1.invoices.retrieve(invoice.stripe_invoice_id)
    if stripe_invoice.status == "draft":
        client.v1.invoices.finalize_invoice(
            invoice.stripe_invoice_id,
            params={"auto_advance": True},
            options=idempotent(f"invoice-{invoice.pk}-finalize"),
        )
    return invoice.stripe_invoice_id


def _create(client: stripe.StripeClient, invoice: Invoice):
    profile = customer_ensure(organization=invoice.organization, client=client)
    customer = profile.stripe_customer_id
    metadata = {"invoice_id": str(invoice.pk), "number": invoice.number or ""}
    pushed = 0
    for line in invoice.lines.all():
        amount = cents(line.amount_pico)
        if not amount:
            continue
        client.v1.invoice_items.create(
            params={
                "customer": customer,
                "currency": "usd",
                "amount": amount,
                "description": line.description[:250] or line.get_kind_display(),
                "metadata": {**metadata, "line_id": str(line.pk), "kind": line.kind},
            },
            options=idempotent(f"invoice-{invoice.pk}-item-{line.pk}"),
        )
        pushed += amount
    # What was already paid from credit, and each line's rounding to the cent, so that
    # Stripe asks for exactly our amount due.
    rest = cents(invoice.amount_due_pico) - pushed
    if rest:
        client.v1.invoice_items.create(
            params={
                "customer": customer,
                "currency": "usd",
                "amount": rest,
                "description": "Paid from credit and rounding to the cent",
                "metadata": {**metadata, "kind": "rest"},
            },
            options=idempotent(f"invoice-{invoice.pk}-item-rest"),
        )
    params = {
        "customer": customer,
        "metadata": metadata,
        "description": f"Invoice {invoice.number or invoice.pk} for {invoice.period}",
        "pending_invoice_items_behavior": "include",
        "auto_advance": False,  # finalized by us, below, once its id is stored
    }
    if profile.default_payment_method:
        params["collection_method"] = "charge_automatically"
        params["default_payment_method"] = profile.default_payment_method
    else:
        params["collection_method"] = "send_invoice"
        params["days_until_due"] = DAYS_UNTIL_DUE
    return client.v1.invoices.create(params=params, options=idempotent(f"invoice-{invoice.pk}"))


def invoice_paid_at_stripe(*, invoice: Invoice, stripe_invoice_id: str) -> None:
    """Stripe says our invoice was paid: it becomes paid via "stripe" (once)."""
    if invoice.status == InvoiceStatus.PAID:
        return
    if invoice.stripe_invoice_id and invoice.stripe_invoice_id != stripe_invoice_id:
        logger.warning(
            "Stripe invoice %s is not the one of invoice %s", stripe_invoice_id, invoice.pk
        )
        return
    if invoice.status != InvoiceStatus.FINALIZED:
        logger.warning("Stripe paid invoice %s, which is %s here", invoice.pk, invoice.status)
        return
    from billing.invoices.review import invoice_mark_paid  # billing.invoices sends pushes

    invoice_mark_paid(invoice=invoice, actor=None, via="stripe")
