"""The owner's billing page, as the owner, an admin, a member, an outsider and staff."""

import contextlib
import re
import zlib
from datetime import UTC, timedelta

import pytest
from django.utils import timezone

from accounts.money import PICO_PER_USD, format_usd
from billing.models import (
    BillingProfile,
    CreditLedgerEntry,
    InvoiceStatus,
    LineKind,
    Plan,
    PlanChange,
    PlanKind,
)
from billing.portal import selectors
from billing.services import credits_grant
from tests.billing.portal.data import make_invoice
from tests.conftest import make_user

PAGE = "/o/org-a/billing/"


def _invoice(org, **kw):
    return make_invoice(
        org,
        "2026-10",
        status=InvoiceStatus.PAID,
        number="INV-000042",
        paid_from_credit_pico=1_500_000_000_000,
        lines=[
            (LineKind.USAGE, "Usage of gpt-4o-mini", "gpt-4o-mini", 120_000, 1_500_000_000_000),
        ],
        **kw,
    )


def test_owner_sees_balance_plan_invoices_ledger_and_the_forms(tenancy, settings):
    settings.STRIPE_SECRET_KEY = "sk_test_x"
    credits_grant(organization=tenancy.org, amount_pico=12 * PICO_PER_USD, reason="welcome")
    invoice = _invoice(tenancy.org)

    r = tenancy.client(tenancy.owner).get(PAGE)

    assert r.status_code == 200
    html = r.content.decode()
    assert 'id="billing-plan">payg<' in html
    assert 'id="topup-form"' in html and 'action="/o/org-a/billing/topup/"' in html
    assert f'id="invoice-{invoice.pk}"' in html and "INV-000042" in html
    assert f"/o/org-a/billing/invoices/{invoice.pk}.pdf" in html
    assert "welcome" in html  # the ledger
    assert 'aria-current="page">Billing<' in html  # the nav tab


def test_balance_shown_is_the_organizations(tenancy):
    credits_grant(organization=tenancy.org, amount_pico=7_250_000_000_000, reason="x")
    tenancy.org.refresh_from_db()

    html = tenancy.client(tenancy.owner).get(PAGE).content.decode()
    assert f'id="billing-balance">{format_usd(tenancy.org.credit_balance_pico)}<' in html


def test_without_stripe_the_page_says_top_ups_are_off(tenancy, settings):
    settings.STRIPE_SECRET_KEY = ""
    html = tenancy.client(tenancy.owner).get(PAGE).content.decode()
    assert 'id="topup-form"' not in html
    assert 'id="topup-off"' in html


def test_autoreload_form_only_once_a_card_is_saved(tenancy):
    client = tenancy.client(tenancy.owner)
    html = client.get(PAGE).content.decode()
    assert 'id="autoreload-form"' not in html
    assert "your first top-up saves it" in html

    BillingProfile.objects.create(
        organization=tenancy.org,
        stripe_customer_id="cus_1",
        default_payment_method="pm_1",
        autoreload_enabled=True,
        autoreload_threshold_pico=5 * PICO_PER_USD,
        autoreload_target_pico=25 * PICO_PER_USD,
        autoreload_monthly_max_pico=100 * PICO_PER_USD,
    )
    html = client.get(PAGE).content.decode()
    assert 'id="autoreload-form"' in html
    assert 'action="/o/org-a/billing/autoreload/"' in html
    assert 'name="threshold" id="id_threshold" min="0" step="0.01" value="5.00"' in html
    assert 'value="25.00"' in html and 'value="100.00"' in html


def test_member_reads_the_page_without_any_form(tenancy, settings):
    settings.STRIPE_SECRET_KEY = "sk_test_x"
    BillingProfile.objects.create(organization=tenancy.org, default_payment_method="pm_1")
    Plan.objects.create(name="team", kind=PlanKind.FLAT, monthly_fee_pico=49 * PICO_PER_USD)
    invoice = _invoice(tenancy.org)

    r = tenancy.client(tenancy.member).get(PAGE)

    assert r.status_code == 200
    html = r.content.decode()
    assert "INV-000042" in html and f"/billing/invoices/{invoice.pk}/" in html
    for form in ("plan-form", "topup-form", "autoreload-form"):
        assert f'id="{form}"' not in html
    assert "Only admins and owners can change the plan." in html


@pytest.mark.parametrize("who", ["outsider", "staff"])
def test_not_a_member_gets_404_on_every_billing_page(tenancy, who):
    invoice = _invoice(tenancy.org)
    user = tenancy.outsider if who == "outsider" else make_user("staff@example.com")
    if who == "staff":
        user.is_staff = True
        user.save(update_fields=["is_staff"])
    client = tenancy.client(user)
    for path in (
        PAGE,
        f"{PAGE}invoices/{invoice.pk}/",
        f"{PAGE}invoices/{invoice.pk}.pdf",
    ):
        assert client.get(path).status_code == 404, path
    assert client.post(f"{PAGE}plan/", {"plan": "payg"}).status_code == 404


def test_another_organizations_invoice_under_my_slug_is_404(tenancy):
    theirs = _invoice(tenancy.other_org)
    client = tenancy.client(tenancy.owner)
    assert client.get(f"{PAGE}invoices/{theirs.pk}/").status_code == 404
    assert client.get(f"{PAGE}invoices/{theirs.pk}.pdf").status_code == 404


def test_ledger_is_paginated_newest_first(tenancy):
    base = timezone.now() - timedelta(days=1)
    for i in range(selectors.LEDGER_PAGE_SIZE + 5):
        CreditLedgerEntry.objects.create(
            organization=tenancy.org,
            kind="grant",
            amount_pico=PICO_PER_USD,
            reason=f"entry number {i:03d}",
            created_at=base + timedelta(minutes=i),
        )
    client = tenancy.client(tenancy.owner)

    first = client.get(PAGE).content.decode()
    numbers = re.findall(r"entry number (\d{3})", first)
    assert numbers[0] == f"{selectors.LEDGER_PAGE_SIZE + 4:03d}"  # the newest
    assert numbers == sorted(numbers, reverse=True)
    assert len(numbers) == selectors.LEDGER_PAGE_SIZE
    assert "page 1 of 2" in first

    second = client.get(PAGE, {"page": 2}).content.decode()
    # the oldest five of ours, then the organization's sign-up grant, if any
    assert re.findall(r"entry number (\d{3})", second)[-1] == "000"


def test_invoice_page_prints_well(tenancy):
    invoice = _invoice(tenancy.org)
    r = tenancy.client(tenancy.member).get(f"{PAGE}invoices/{invoice.pk}/")
    assert r.status_code == 200
    html = r.content.decode()
    assert "Invoice INV-000042" in html
    assert "@media print" in html and ".topbar" in html  # the nav is not printed
    assert 'id="invoice-total">$1.50<' in html
    assert 'id="invoice-due">$0.00<' in html
    assert "120000 tokens" in html


def _pdf_text(pdf: bytes) -> bytes:
    """The PDF's streams, inflated: its metadata (the title) and outline (the heading)."""
    out = [pdf]
    for m in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.S):
        with contextlib.suppress(zlib.error):
            out.append(zlib.decompress(m.group(1)))
    return b"\n".join(out)


def test_invoice_pdf_is_a_pdf_naming_the_invoice(tenancy):
    invoice = _invoice(tenancy.org)
    r = tenancy.client(tenancy.owner).get(f"{PAGE}invoices/{invoice.pk}.pdf")
    assert r.status_code == 200
    assert r["Content-Type"] == "application/pdf"
    assert "INV-000042" in r["Content-Disposition"]
    assert r.content.startswith(b"%PDF")
    text = _pdf_text(r.content)
    assert b"/Title (Invoice INV-000042" in text
    assert b"/Title (Invoice INV-000042)" in text  # the heading, in the outline


@pytest.fixture
def plans_ab(tenancy):
    Plan.objects.create(name="payg", kind=PlanKind.PREPAID, is_default=True)
    team = Plan.objects.create(
        name="team", kind=PlanKind.FLAT, monthly_fee_pico=49 * PICO_PER_USD,
        included_pico=40 * PICO_PER_USD, overage="bill",
    )  # fmt: skip
    return team


def test_owner_upgrades_at_once_prorated(tenancy, plans_ab):
    client = tenancy.client(tenancy.owner)
    html = client.get(PAGE).content.decode()
    assert 'id="plan-form"' in html and '<option value="team"' in html
    before = timezone.now()

    r = client.post(f"{PAGE}plan/", {"plan": "team"}, follow=True)

    change = PlanChange.objects.get(organization=tenancy.org)
    assert change.plan.name == "team"
    assert change.prorated
    assert before - timedelta(seconds=5) <= change.effective_at <= timezone.now()
    assert "You are on team from now" in r.content.decode()
    assert 'id="billing-plan">team<' in r.content.decode()


def test_admin_downgrade_is_scheduled_for_the_next_period_and_shown(tenancy, plans_ab):
    PlanChange.objects.create(
        organization=tenancy.org,
        plan=plans_ab,
        effective_at=timezone.now() - timedelta(days=40),
    )
    client = tenancy.client(tenancy.admin)

    r = client.post(f"{PAGE}plan/", {"plan": "payg"}, follow=True)

    html = r.content.decode()
    scheduled = PlanChange.objects.filter(organization=tenancy.org).latest("effective_at")
    now = timezone.now()
    assert scheduled.plan.name == "payg"
    assert not scheduled.prorated
    first_of_next = (now.replace(day=1) + timedelta(days=32)).replace(
        day=1, hour=0, minute=0, second=0, microsecond=0
    )
    assert scheduled.effective_at == first_of_next.astimezone(UTC)
    assert 'id="billing-plan">team<' in html  # still team this month
    assert 'id="scheduled-change"' in html and "<strong>payg</strong>" in html


def test_member_cannot_change_the_plan(tenancy, plans_ab):
    r = tenancy.client(tenancy.member).post(f"{PAGE}plan/", {"plan": "team"})
    assert r.status_code == 403
    assert not PlanChange.objects.exists()


def test_an_unknown_plan_is_refused_with_a_message(tenancy, plans_ab):
    r = tenancy.client(tenancy.owner).post(f"{PAGE}plan/", {"plan": "nope"}, follow=True)
    assert "Pick one of the listed plans" in r.content.decode()
    assert not PlanChange.objects.exists()


def test_plan_change_needs_csrf(tenancy, plans_ab):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(tenancy.owner)
    assert client.post(f"{PAGE}plan/", {"plan": "team"}).status_code == 403
    assert not PlanChange.objects.exists()


def test_choosing_the_current_plan_cancels_a_scheduled_change(tenancy, plans_ab):
    client = tenancy.client(tenancy.owner)
    client.post(f"{PAGE}plan/", {"plan": "team"})  # upgrade now
    client.post(f"{PAGE}plan/", {"plan": "payg"})  # downgrade scheduled
    assert PlanChange.objects.filter(effective_at__gt=timezone.now()).exists()

    r = client.post(f"{PAGE}plan/", {"plan": "team"}, follow=True)

    assert not PlanChange.objects.filter(effective_at__gt=timezone.now()).exists()
    assert "You stay on team" in r.content.decode()
    assert 'id="scheduled-change"' not in r.content.decode()
