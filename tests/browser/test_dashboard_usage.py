"""Home and Usage in headless Chromium: the vendored uPlot draws a canvas from the page's
data, the legend names the split's series, and the charts fit a 390 px phone. Screenshots
go to test-artifacts/dashboard-home*.png and dashboard-usage*.png."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.money import PICO_PER_USD
from accounts.services import organization_create
from billing.services import credits_grant
from tests.browser.test_portal_flows import sign_in
from tests.conftest import make_user
from tests.dashboard.data import rollup

pytestmark = pytest.mark.browser


def _fits(page, selector: str, width: int) -> None:
    box = page.locator(selector).bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width


def test_home_and_usage_charts_render_on_desktop_and_phone(page, transactional_db, artifacts):
    owner = make_user("owner@acme.example")
    org = organization_create(name="Acme", owner=owner, slug="acme")
    credits_grant(organization=org, amount_pico=20 * PICO_PER_USD, reason="Welcome credit")
    today = timezone.now().date()
    for n in range(14):
        day = today - timedelta(days=n)
        rollup(org, day, model="gpt-4o", requests=10 + n, cost_pico=(n + 1) * PICO_PER_USD // 10)
        rollup(
            org, day, model="claude-sonnet", requests=5, errors=n % 2, cost_pico=PICO_PER_USD // 20
        )
    sign_in(page, owner.email)

    page.goto("/o/acme/")
    expect(page.locator("#home-spend canvas").first).to_be_attached()
    expect(page.locator("#home-spend")).to_have_attribute("data-rendered", "true")
    expect(page.locator("#balance")).to_have_text("$20.00")
    expect(page.locator("#requests-today")).to_have_text("15")
    expect(page.locator("#base-url")).to_have_text(page.url.split("/o/")[0] + "/v1")
    page.screenshot(path=artifacts / "dashboard-home.png", full_page=True)

    start = (today - timedelta(days=13)).isoformat()
    page.goto(f"/o/acme/usage/?start={start}&end={today}&metric=requests&split=model")
    expect(page.locator("#usage-chart canvas").first).to_be_attached()
    legend = page.locator("#usage-chart .u-legend")
    expect(legend).to_contain_text("gpt-4o")
    expect(legend).to_contain_text("claude-sonnet")
    assert page.locator("#usage-chart canvas").first.bounding_box()["width"] > 600
    page.screenshot(path=artifacts / "dashboard-usage.png", full_page=True)

    # The filters form changes the URL, and the chart follows.
    page.get_by_label("Show").select_option("spend")
    page.get_by_label("Split by").select_option("none")
    page.get_by_role("button", name="Apply").click()
    expect(page).to_have_url(
        f"/o/acme/usage/?start={start}&end={today}&metric=spend&split=none&bucket=day"
    )
    expect(page.locator("#usage-chart .u-legend")).to_contain_text("Total")

    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    expect(page.locator("#usage-chart canvas").first).to_be_attached()
    _fits(page, "#usage-chart canvas >> nth=0", 390)
    _fits(page, "#usage-csv", 390)
    page.screenshot(path=artifacts / "dashboard-usage-phone.png", full_page=True)
    page.goto("/o/acme/")
    expect(page.locator("#home-spend canvas").first).to_be_attached()
    _fits(page, "#home-spend canvas >> nth=0", 390)
    page.screenshot(path=artifacts / "dashboard-home-phone.png", full_page=True)
