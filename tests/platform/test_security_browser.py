"""Issue 13: the CSP (platform_site/settings.py) blocks nothing the portal does. Chromium
visits every page a signed-in owner reaches, the API docs and the live feed (its websocket
on the real ASGI server), and records every CSP violation: there must be none.

A violation is seen twice: as the console's message (Chromium's "… violates the following
Content Security Policy directive …", formerly "Refused to …") and as the page's
`securitypolicyviolation` event, so that neither channel's silence alone passes the test.
"""

import re

import pytest
from django.test import Client

from accounts.services import api_key_create, organization_create
from tests.browser.conftest import _fast_and_fresh, browser  # noqa: F401  the fixtures
from tests.browser.test_portal_flows import sign_in
from tests.conftest import make_user
from tests.processes import AsgiServer

pytestmark = pytest.mark.browser

PAGES = [
    "/accounts/login/",
    "/accounts/signup/",
    "/o/acme/",
    "/o/acme/keys/",
    "/o/acme/keys/{key_id}/",
    "/o/acme/members/",
    "/o/acme/billing/",
    "/o/acme/settings/",
    "/o/acme/usage/",
    "/o/acme/requests/",
    "/o/acme/models/",
    "/o/acme/playground/",
    "/orgs/new/",
    "/accounts/email/",
    "/api/docs/",
    "/no-such-page/",
]
RECORD = """() => {
    window.__csp = [];
    document.addEventListener("securitypolicyviolation", (e) =>
        window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`));
}"""


class Violations:
    """Console messages and events of CSP violations on one page, across navigations."""

    def __init__(self, page) -> None:
        self.page, self.console = page, []
        page.add_init_script(f"({RECORD})()")
        page.on("console", self._console)

    def _console(self, message) -> None:
        if "Content Security Policy" in message.text or message.text.startswith("Refused to"):
            self.console.append(message.text)

    def take(self) -> list[str]:
        found, self.console = [*self.console, *self.page.evaluate("window.__csp || []")], []
        return found


def owner_with_org() -> tuple:
    owner = make_user("owner@acme.example")
    org = organization_create(name="Acme", owner=owner, slug="acme")
    key = api_key_create(organization=org, name="ci", created_by=owner).key
    return owner, org, key


def test_no_page_breaks_the_csp(browser, live_server, transactional_db):  # noqa: F811
    owner, _, key = owner_with_org()
    context = browser.new_context(base_url=live_server.url)
    context.set_default_timeout(10_000)
    page = context.new_page()
    seen = Violations(page)
    try:
        sign_in(page, owner.email)
        page.wait_for_url(re.compile(r"/o/acme/"))
        failures, checked = {}, []
        for template in PAGES:
            path = template.format(key_id=key.pk)
            response = page.goto(path)
            if response.status == 404 and path != "/no-such-page/":
                continue  # a page this build does not have
            assert "script-src 'self'" in response.headers["content-security-policy"], path
            page.wait_for_load_state("networkidle")
            checked.append(path)
            if found := seen.take():
                failures[path] = found
        assert {"/o/acme/", "/o/acme/usage/", "/api/docs/", "/o/acme/playground/"} <= set(checked)
        assert not failures, failures
        assert page.goto("/api/docs/") and page.wait_for_selector(".swagger-ui .info")
    finally:
        context.close()


def test_the_live_feed_connects_under_the_csp(browser, transactional_db):  # noqa: F811
    owner, _, _ = owner_with_org()
    client = Client()
    client.force_login(owner)
    server = AsgiServer().start()
    context = browser.new_context(base_url=server.url)
    context.set_default_timeout(10_000)
    try:
        context.add_cookies([{
            "name": "sessionid", "value": client.cookies["sessionid"].value, "url": server.url,
        }])  # fmt: skip
        page = context.new_page()
        seen = Violations(page)
        response = page.goto("/o/acme/live/")
        assert "connect-src 'self'" in response.headers["content-security-policy"]
        page.wait_for_selector('#live-status[data-state="open"]')
        assert seen.take() == []
    finally:
        context.close()
        server.stop()


def test_a_violation_is_seen(browser, live_server, transactional_db):  # noqa: F811
    """The check can fail: an inline script and a foreign image on a real page."""
    context = browser.new_context(base_url=live_server.url)
    page = context.new_page()
    seen = Violations(page)
    try:
        page.goto("/accounts/login/")
        page.evaluate("""() => {
            const s = document.createElement("script");
            s.textContent = "window.ran = 1";
            document.body.append(s);
            const img = document.createElement("img");
            img.src = "https://example.invalid/x.png";
            document.body.append(img);
        }""")
        page.wait_for_timeout(300)
        found = seen.take()
        assert page.evaluate("window.ran") is None
        assert any("script-src" in f for f in found) and any("img-src" in f for f in found)
        assert any("Content Security Policy" in f for f in found), found  # the console
    finally:
        context.close()
