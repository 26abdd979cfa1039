"""The admin's billing review, tried as an admin would in headless Chromium: review an
invoice waiting for review, see that it reconciles, drill into its usage, finalize it,
void another with a reason, and find both actions in the audit log.

The invoices come from real usage: the usage writer, then `reconcile` (rollups, lines,
check). Screenshots go to test-artifacts/billing-review-*.png."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.money import PICO_PER_USD
from accounts.services import organization_create
from billing.invoices.reconcile import reconcile
from billing.models import BillingAudit, Invoice, InvoiceStatus, UsageRecord
from billing.periods import period_bounds, period_of, previous_period
from billing.services import credits_grant
from tests.billing.portal.data import record_usage
from tests.browser.test_portal_flows import sign_in
from tests.conftest import make_user

pytestmark = pytest.mark.browser


@pytest.fixture
def invoices(transactional_db):
    period = previous_period(previous_period(period_of(timezone.now())))
    start, _ = period_bounds(period)
    acme = organization_create(name="Acme", owner=make_user("owner@acme.example"), slug="acme")
    umbrella = organization_create(
        name="Umbrella", owner=make_user("owner@umbrella.example"), slug="umbrella"
    )
    for org in (acme, umbrella):
        credits_grant(organization=org, amount_pico=20 * PICO_PER_USD, reason="seed")
    record_usage(acme, at=start + timedelta(days=3), model="small-fast", count=4,
                 input_tokens=1200, output_tokens=300, cost_pico=450_000_000, refresh=False)  # fmt: skip
    record_usage(acme, at=start + timedelta(days=9), model="frontier", count=2,
                 input_tokens=5000, output_tokens=900, cost_pico=31_000_000_000, refresh=False)  # fmt: skip
    record_usage(umbrella, at=start + timedelta(days=4), model="small-fast", count=3,
                 cost_pico=2_000_000_000, refresh=False)  # fmt: skip
    reconcile(period=period)
    a = Invoice.objects.get(organization=acme, period=period)
    u = Invoice.objects.get(organization=umbrella, period=period)
    assert a.status == u.status == InvoiceStatus.IN_REVIEW
    return a, u


def test_admin_reviews_finalizes_voids_and_finds_it_in_the_audit_log(page, invoices, artifacts):
    acme, umbrella = invoices
    admin = make_user("billing-admin@jinf.example")
    admin.is_staff = True
    admin.save(update_fields=["is_staff"])
    sign_in(page, admin.email)

    # The review list: both invoices wait, and Acme's reconciles.
    page.locator("details.account summary").click()
    page.get_by_role("link", name="Billing review").click()
    expect(page.get_by_role("heading", name="Billing review")).to_be_visible()
    acme_row = page.locator(f"#review-{acme.pk}")
    expect(acme_row).to_contain_text("Acme")
    expect(acme_row).to_contain_text("In review")
    expect(acme_row).to_contain_text("Reconciles")
    expect(page.locator(f"#review-{umbrella.pk}")).to_contain_text("Umbrella")
    page.screenshot(path=artifacts / "billing-review-list.png", full_page=True)

    # The invoice, its check, and the usage behind its frontier line.
    acme_row.get_by_role("link", name="Review").click()
    expect(page.locator("#review-check")).to_have_text("Reconciles")
    expect(page.locator("#check-figures")).to_contain_text("raw usage records$0.0638")
    frontier = acme.lines.get(model="frontier")
    page.locator(f"#line-{frontier.pk}").get_by_role("link", name="Usage").click()
    records = page.locator("#usage-records tbody tr")
    expect(records).to_have_count(2)
    for record in UsageRecord.objects.filter(organization=acme.organization, model="frontier"):
        expect(page.locator(f"#record-{record.pk}")).to_contain_text(record.request_id)
    expect(page.locator("#usage-records")).not_to_contain_text("small-fast")
    page.screenshot(path=artifacts / "billing-review-usage.png", full_page=True)

    # Approve and finalize (the page asks to confirm; the fixture accepts).
    page.get_by_role("link", name="← Acme").click()
    page.get_by_role("button", name="Approve and finalize").click()
    expect(page.get_by_text("Finalized the invoice.")).to_be_visible()
    acme.refresh_from_db()
    assert acme.number and acme.status == InvoiceStatus.PAID  # prepaid: paid from credit
    expect(page.locator("h1")).to_contain_text(acme.number)
    page.screenshot(path=artifacts / "billing-review-finalized.png", full_page=True)

    # Void Umbrella's with a reason; without one the browser refuses to send the form.
    page.get_by_role("navigation", name="Billing review").get_by_role(
        "link", name="Invoices"
    ).click()
    page.locator(f"#review-{umbrella.pk}").get_by_role("link", name="Review").click()
    page.get_by_label("Reason for voiding").fill("Test organization, not a customer")
    page.get_by_role("button", name="Void").click()
    expect(page.get_by_text("Voided the invoice")).to_be_visible()
    expect(page.locator("#review-status")).to_have_text("Void")
    umbrella.refresh_from_db()
    assert umbrella.status == InvoiceStatus.VOID

    # Both actions in the audit log, with who did them, and why.
    page.get_by_role("navigation", name="Billing review").get_by_role(
        "link", name="Audit log"
    ).click()
    finalize = BillingAudit.objects.get(action="invoice_finalize", target=f"invoice:{acme.pk}")
    void = BillingAudit.objects.get(action="invoice_void", target=f"invoice:{umbrella.pk}")
    expect(page.locator(f"#audit-{finalize.pk}")).to_contain_text(admin.email)
    expect(page.locator(f"#audit-{finalize.pk}")).to_contain_text("invoice_finalize")
    expect(page.locator(f"#audit-{void.pk}")).to_contain_text("invoice_void")
    expect(page.locator(f"#audit-{void.pk}")).to_contain_text("Test organization, not a customer")
    page.screenshot(path=artifacts / "billing-review-audit.png", full_page=True)
