"""axe-core in headless Chromium on every portal page a signed-in owner can reach
(issue 12): no violation of impact "serious" or "critical", at desktop and phone width.

axe-core is vendored under tests/browser/vendor/ (version, licence and SHA-256 in its
README.md) and injected by the test; the app never serves it. Pages of the dashboard
(usage, requests, live, models, playground) are checked when their URL resolves.
"""

import hashlib
import json
import re
from pathlib import Path

import pytest
from django.urls import Resolver404, resolve

from accounts.models import Membership, Role
from accounts.services import api_key_create, invitation_create, organization_create
from billing.usage import UsageEvent, usage_record_batch
from tests.browser.test_portal_flows import sign_in
from tests.conftest import make_user

pytestmark = pytest.mark.browser

VENDOR = Path(__file__).parent / "vendor"
AXE = VENDOR / "axe-core-4.14.1" / "axe.min.js"
BLOCKING = ("serious", "critical")
# Violations known and accepted: (width, path, rule). Anything else fails the test, and an
# entry that no longer happens fails it too, so that this list only shrinks.
REPORTED: set[tuple[int, str, str]] = set()
PAGES = [
    "/o/acme/",
    "/o/acme/keys/",
    "/o/acme/keys/{key_id}/",
    "/o/acme/members/",
    "/o/acme/billing/",
    "/o/acme/settings/",
    "/o/acme/usage/",
    "/o/acme/requests/",
    "/o/acme/requests/req_a11y/",  # with its stored prompt and answer
    "/o/acme/live/",
    "/o/acme/models/",
    "/o/acme/providers/",
    "/o/acme/playground/",
    "/orgs/new/",
    "/accounts/email/",
    "/accounts/password/change/",
    "/no-such-page/",
]


def test_the_vendored_axe_is_the_one_in_the_readme():
    digest = hashlib.sha256(AXE.read_bytes()).hexdigest()
    assert digest in (VENDOR / "README.md").read_text()


def portal_page(path: str) -> bool:
    """The page exists in this build (the dashboard's pages may not yet)."""
    if path == "/no-such-page/":
        return True  # the portal's 404
    try:
        match = resolve(path)
    except Resolver404:
        return False
    return not match.route.startswith("api/")


def violations(page) -> list[dict]:
    page.add_script_tag(path=str(AXE))
    found = page.evaluate(
        """async () => (await axe.run(document, {resultTypes: ["violations"]})).violations
            .map(v => ({id: v.id, impact: v.impact, help: v.help,
                        nodes: v.nodes.slice(0, 5).map(n => n.target.join(" "))}))"""
    )
    return [v for v in found if v["impact"] in BLOCKING]


@pytest.mark.parametrize("width", [1280, 390])
def test_no_serious_violation_on_any_page(browser, live_server, transactional_db, artifacts,
                                          width):  # fmt: skip
    owner = make_user("owner@acme.example")
    org = organization_create(name="Acme", owner=owner, slug="acme")
    member = make_user("member@acme.example")
    Membership.objects.create(user=member, organization=org, role=Role.MEMBER)
    key = api_key_create(organization=org, name="ci", created_by=owner, rpm_limit=60).key
    api_key_create(organization=org, name="theirs", created_by=member)
    invitation_create(membership=Membership.objects.get(user=owner), email="new@acme.example")
    org.log_bodies = True
    org.save()
    usage_record_batch([UsageEvent(
        request_id="req_a11y", organization_id=org.pk, api_key_id=key.pk, endpoint="chat",
        model="demo", status="ok", streamed=True, prompt='{"model": "demo", "messages": []}',
        answer='data: {"choices":[{"delta":{"content":"hi"}}]}\n\ndata: [DONE]\n\n',
    )])  # fmt: skip

    # axe is injected as an inline script, which the portal's CSP rightly refuses.
    context = browser.new_context(base_url=live_server.url, bypass_csp=True,
                                  viewport={"width": width, "height": 900})  # fmt: skip
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        sign_in(page, owner.email)
        page.wait_for_url(re.compile(r"/o/acme/"))
        checked, failures = [], {}
        for template in PAGES:
            path = template.format(key_id=key.pk)
            if not portal_page(path):
                continue
            response = page.goto(path)
            assert response.status == (404 if path == "/no-such-page/" else 200), path
            page.wait_for_load_state("networkidle")
            checked.append(path)
            found = violations(page)
            if found:
                failures[path] = found
                name = re.sub(r"[^a-z0-9]+", "-", path.strip("/")) or "home"
                page.screenshot(path=artifacts / f"a11y-{width}-{name}.png", full_page=True)
        (artifacts / f"a11y-{width}.json").write_text(json.dumps(
            {"checked": checked, "violations": failures}, indent=2))  # fmt: skip
        assert {"/o/acme/", "/o/acme/keys/", "/o/acme/members/", "/o/acme/settings/"} <= set(
            checked
        )
        found = {(width, path, v["id"]) for path, vs in failures.items() for v in vs}
        reported = {r for r in REPORTED if r[0] == width and r[1] in checked}
        new = {f"{p} {rule}": failures[p] for _, p, rule in found - reported}
        assert not new, json.dumps(new, indent=2)
        assert not reported - found, f"fixed now, drop from REPORTED: {reported - found}"
    finally:
        context.close()


def test_axe_finds_what_it_should(browser, live_server, transactional_db):
    """The check can fail: a page with an unlabelled input and a low-contrast text."""
    context = browser.new_context(base_url=live_server.url, bypass_csp=True)
    page = context.new_page()
    try:
        page.set_content(
            '<html lang="en"><title>t</title><body><main>'
            '<p style="color:#ccc;background:#fff">faint</p><input type="text">'
            "</main></body></html>"
        )
        ids = {v["id"] for v in violations(page)}
        assert {"label", "color-contrast"} <= ids, ids
    finally:
        context.close()
