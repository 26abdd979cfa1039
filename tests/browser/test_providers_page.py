"""The Providers page (issue 14) in headless Chromium at 390 px: an owner adds a provider
with a long base URL through the form, tests it against the sandbox, adds a model over it,
and the page neither scrolls sideways nor has a serious axe violation, with both tables
filled. Screenshots: test-artifacts/providers-*.png."""

import re

import pytest
from playwright.sync_api import expect

from accounts.services import organization_create
from sandbox.server import SandboxServer
from tests.browser.test_accessibility import violations
from tests.browser.test_portal_flows import sign_in
from tests.conftest import make_user

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
SECRET = "sk-org-secret-browser-3f9a1c"


@pytest.fixture
def upstream():
    server = SandboxServer().start()
    try:
        yield server
    finally:
        server.stop()


def test_an_owner_adds_tests_and_serves_a_provider_on_a_phone(
    browser, live_server, transactional_db, artifacts, upstream, settings
):
    settings.BYOK_ALLOW_PRIVATE_URLS = True  # the sandbox is on loopback
    owner = make_user("owner@acme.example")
    organization_create(name="Acme", owner=owner, slug="acme")
    # axe is injected as an inline script, which the portal's CSP rightly refuses.
    context = browser.new_context(base_url=live_server.url, viewport=PHONE, bypass_csp=True)
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())
    try:
        sign_in(page, owner.email)
        page.wait_for_url(re.compile(r"/o/acme/"))
        page.get_by_role("navigation", name="Organization").get_by_role(
            "link", name="Providers"
        ).click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Providers")

        # A long path, as some providers' URLs are, and the key typed into a password field.
        long_url = upstream.url + "/v1?deployment=" + "a-very-long-deployment-name-" * 4
        page.get_by_label("Name", exact=True).fill("team-upstream")
        page.get_by_label("Kind").select_option("openai")
        page.get_by_label("Base URL").fill(long_url)
        page.get_by_label("API key").fill(SECRET)
        page.get_by_role("button", name="Add provider").click()
        expect(page.get_by_text("Added the provider team-upstream")).to_be_visible()
        assert SECRET not in page.content()

        page.get_by_role("button", name="Test team-upstream").click()
        expect(page.locator(".alert-error, .alert-success")).to_contain_text("team-upstream:")

        page.get_by_label("Name", exact=True).last.fill("team-chat")
        page.get_by_label("Upstream model").fill("demo")
        page.get_by_label("Input price (USD per million tokens)").fill("1.5")
        page.get_by_role("button", name="Add model").click()
        expect(page.get_by_text("Added the model team-chat")).to_be_visible()
        expect(page.locator('tr[data-model="team-chat"]')).to_contain_text("own key (BYOK fee)")

        page.screenshot(path=artifacts / "providers-phone.png", full_page=True)
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        for button in page.locator("td.actions button").all():
            box = button.bounding_box()
            assert box is not None and box["x"] + box["width"] <= PHONE["width"] + 0.5
        found = violations(page)
        assert not found, found
        assert SECRET not in page.content()
    finally:
        context.close()
