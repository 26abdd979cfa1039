"""The request log in headless Chromium: filter by status from the form (kept in the URL),
page back and forth, open a request's detail; at phone width the page does not scroll
sideways (the table scrolls in its own box). Screenshots: test-artifacts/requests-*.png."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.services import api_key_create, organization_create
from dashboard import request_log
from tests.browser.test_portal_flows import sign_in
from tests.conftest import make_user
from tests.dashboard.request_data import make_records

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("width", [1280, 390])
def test_filter_page_and_open_a_request(page, transactional_db, artifacts, monkeypatch, width):
    monkeypatch.setattr(request_log, "PAGE_SIZE", 10)
    owner = make_user("owner@acme.example")
    org = organization_create(name="Acme", owner=owner, slug="acme")
    key = api_key_create(organization=org, name="ci", created_by=owner).key
    now = timezone.now()
    make_records(org, at=now - timedelta(minutes=30), count=25, key=key, cost_pico=12_345_678)
    (refused,) = make_records(
        org,
        at=now - timedelta(minutes=1),
        key=key,
        status="refused",
        http_status=402,
        code="insufficient_credits",
        error="Add credits on the billing page.",
    )
    page.set_viewport_size({"width": width, "height": 900})
    sign_in(page, owner.email)
    page.goto("/o/acme/requests/")

    rows = page.locator("#request-log tbody tr")
    expect(rows).to_have_count(10)
    expect(rows.first).to_contain_text("insufficient_credits")
    page.locator("#older-requests").click()
    expect(rows).to_have_count(10)
    expect(page.locator("#newer-requests")).to_be_visible()
    page.screenshot(path=artifacts / f"requests-{width}.png", full_page=True)
    sideways = page.evaluate("document.documentElement.scrollWidth > window.innerWidth")
    assert not sideways

    page.get_by_label("Status").select_option("refused")
    page.get_by_role("button", name="Filter").click()
    expect(rows).to_have_count(1)
    assert "status=refused" in page.url
    assert "status=refused" in page.locator("#requests-csv").get_attribute("href")

    rows.first.get_by_role("link").click()
    expect(page.locator("#request-detail")).to_contain_text("Add credits on the billing page.")
    expect(page.locator("#d-status")).to_contain_text("HTTP 402")
    assert page.url.endswith(f"/o/acme/requests/{refused.request_id}/")
    page.screenshot(path=artifacts / f"request-detail-{width}.png", full_page=True)
    assert not page.evaluate("document.documentElement.scrollWidth > window.innerWidth")
