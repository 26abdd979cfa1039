"""The owner's billing page in headless Chromium: the Billing tab, the plan and its
scheduled change, the invoice, and that the invoice prints without the portal around it.
Screenshots go to test-artifacts/billing-page*.png and billing-invoice-print.png."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.money import PICO_PER_USD
from accounts.services import organization_create
from billing.models import InvoiceStatus, LineKind, Plan, PlanChange, PlanKind
from billing.periods import period_of, previous_period
from billing.services import credits_grant
from tests.billing.portal.data import make_invoice, record_usage
from tests.browser.test_portal_flows import open_tab, sign_in
from tests.conftest import make_user

pytestmark = pytest.mark.browser


def test_owner_changes_plan_and_prints_an_invoice(page, transactional_db, artifacts):
    owner = make_user("owner@acme.example")
    org = organization_create(name="Acme", owner=owner, slug="acme")
    Plan.objects.create(name="payg", kind=PlanKind.PREPAID, is_default=True)
    Plan.objects.create(name="team", kind=PlanKind.FLAT, monthly_fee_pico=49 * PICO_PER_USD,
                        included_pico=40 * PICO_PER_USD, overage="bill")  # fmt: skip
    credits_grant(organization=org, amount_pico=20 * PICO_PER_USD, reason="Welcome credit")
    record_usage(org, at=timezone.now() - timedelta(minutes=5), count=2, cost_pico=10**10)
    invoice = make_invoice(
        org,
        previous_period(period_of(timezone.now())),
        status=InvoiceStatus.PAID,
        number="INV-000007",
        paid_from_credit_pico=2 * 10**10,
        lines=[(LineKind.USAGE, "Usage of gpt-4o-mini", "gpt-4o-mini", 300, 2 * 10**10)],
    )
    sign_in(page, owner.email)
    open_tab(page, "Billing")

    expect(page.get_by_role("heading", name="Billing", exact=True)).to_be_visible()
    expect(page.locator("#billing-plan")).to_have_text("payg")
    expect(page.locator("#billing-spend")).to_have_text("$0.02")
    expect(page.locator(f"#invoice-{invoice.pk}")).to_contain_text("INV-000007")
    expect(page.locator("#autoreload-off")).to_be_visible()
    expect(page.locator("#billing-balance")).to_have_text("$19.98")
    expect(page.locator("#ledger-list")).to_contain_text("Welcome credit")

    # Upgrade at once, then a downgrade that waits for the next period.
    page.get_by_label("Plan").select_option("team")
    page.get_by_role("button", name="Change plan").click()
    expect(page.get_by_text("You are on team from now")).to_be_visible()
    expect(page.locator("#billing-plan")).to_have_text("team")
    page.get_by_label("Plan").select_option("payg")
    page.get_by_role("button", name="Change plan").click()
    expect(page.locator("#scheduled-change")).to_contain_text("payg")
    expect(page.locator("#billing-plan")).to_have_text("team")
    assert PlanChange.objects.filter(organization=org).count() == 2
    page.screenshot(path=artifacts / "billing-page.png", full_page=True)

    page.locator(f"#invoice-{invoice.pk}").get_by_role("link", name="View").click()
    expect(page.get_by_role("heading", name="Invoice INV-000007")).to_be_visible()
    expect(page.locator("#invoice-total")).to_have_text("$0.02")
    expect(page.locator(".topbar")).to_be_visible()
    page.emulate_media(media="print")
    expect(page.locator(".topbar")).to_be_hidden()  # printed: the invoice alone
    expect(page.locator("p.no-print")).to_be_hidden()
    expect(page.locator("#invoice-document")).to_be_visible()
    page.screenshot(path=artifacts / "billing-invoice-print.png", full_page=True)
