"""Billing's rows in the Django admin are read, not edited: an invoice's page shows its
lines inline, and no billing row can be added or changed there."""

import pytest

from accounts.models import User
from billing.models import BillingAudit, Invoice, InvoiceStatus, LineKind
from tests.billing.portal.data import make_invoice


@pytest.fixture
def root_client(client, db):
    client.force_login(User.objects.create_superuser(email="root@example.com", password="x"))
    return client


def test_invoice_page_shows_its_lines_read_only(root_client, tenancy):
    inv = make_invoice(
        tenancy.org,
        "2026-10",
        status=InvoiceStatus.FINALIZED,
        number="INV-000010",
        lines=[(LineKind.USAGE, "Usage of gpt-4o-mini", "gpt-4o-mini", 1234, 5_000_000)],
    )
    r = root_client.get(f"/admin/billing/invoice/{inv.pk}/change/")
    assert r.status_code == 200
    html = r.content.decode()
    assert "Usage of gpt-4o-mini" in html and "5000000" in html
    assert 'name="lines-0-amount_pico"' not in html  # no editable inline field
    assert root_client.get("/admin/billing/invoice/add/").status_code == 403


@pytest.mark.parametrize("model", [Invoice, BillingAudit])
def test_billing_rows_cannot_be_changed_in_the_admin(root_client, tenancy, model):
    if model is Invoice:
        obj = make_invoice(tenancy.org, "2026-10")
    else:
        obj = BillingAudit.objects.create(action="x", target="invoice:1")
    r = root_client.post(f"/admin/billing/{model._meta.model_name}/{obj.pk}/change/", {})
    assert r.status_code == 403
    r = root_client.post(
        f"/admin/billing/{model._meta.model_name}/{obj.pk}/delete/", {"post": "yes"}
    )
    assert r.status_code == 403
    assert model.objects.filter(pk=obj.pk).exists()
