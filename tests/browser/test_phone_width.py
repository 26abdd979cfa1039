"""The portal at 390 px wide (issue 12): every tab of the organization reachable, and the
keys and members tables reflowed so their actions are on screen. Screenshots go to
test-artifacts/phone-*.png."""

from datetime import UTC, datetime

import pytest

from accounts.models import APIKey, Membership, Role
from accounts.services import api_key_create, organization_create
from tests.browser.test_portal_flows import sign_in
from tests.conftest import make_user

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def phone(browser, live_server, transactional_db):
    context = browser.new_context(base_url=live_server.url, viewport=PHONE)
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()


def within_viewport(page, box) -> bool:
    return box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"] + 0.5


def test_tabs_and_key_actions_fit_a_phone(phone, artifacts):
    owner = make_user("owner-with-a-long-address@acme.example")
    org = organization_create(name="Acme Research Laboratories", owner=owner, slug="acme")
    Membership.objects.create(user=make_user("member@acme.example"), organization=org,
                              role=Role.MEMBER)  # fmt: skip
    for i in range(3):
        new = api_key_create(organization=org, name=f"production service key {i}",
                             created_by=owner, allowed_models=["gpt-4o-mini", "claude-3-5-haiku"],
                             rpm_limit=600, tpm_limit=100000, budget_pico=25 * 10**12)  # fmt: skip
    APIKey.objects.filter(pk=new.key.pk).update(expires_at=datetime(2031, 2, 1, tzinfo=UTC))
    page = phone
    sign_in(page, owner.email)
    page.goto("/o/acme/keys/")
    page.screenshot(path=artifacts / "phone-keys.png", full_page=True)

    # No horizontal scrolling of the page itself.
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

    tabs = page.get_by_role("navigation", name="Organization").get_by_role("link")
    names = tabs.all_inner_texts()
    assert {"API keys", "Members", "Billing", "Settings"} <= set(names), names
    for i in range(tabs.count()):
        tab = tabs.nth(i)
        assert tab.is_visible(), names[i]
        assert within_viewport(page, tab.bounding_box()), (names[i], tab.bounding_box())

    # Each key's actions are on screen (the row reflows into a card).
    rows = page.locator("table.keys tbody tr")
    assert rows.count() == 3
    for i in range(rows.count()):
        for name in ("Edit limits", "Rotate", "Revoke"):
            control = rows.nth(i).get_by_role(
                "link" if name == "Edit limits" else "button", name=name
            )
            control.scroll_into_view_if_needed()
            assert control.is_visible()
            assert within_viewport(page, control.bounding_box()), (i, name)
    # The cells keep their labels.
    labels = rows.first.locator("td[data-label]").evaluate_all(
        "tds => tds.map(td => getComputedStyle(td, '::before').content)"
    )
    assert '"Last used"' in labels and '"Status"' in labels, labels

    # Every tab opens its page, with nothing wider than the screen.
    for name in names:
        page.get_by_role("navigation", name="Organization").get_by_role("link", name=name).click()
        page.wait_for_load_state()
        slug = name.lower().replace(" ", "-")
        page.screenshot(path=artifacts / f"phone-tab-{slug}.png", full_page=True)
        assert page.get_by_role("navigation", name="Organization").is_visible(), name

    page.goto("/o/acme/members/")
    actions = page.locator("table.reflow tbody tr").last.get_by_role("button", name="Remove")
    actions.scroll_into_view_if_needed()
    assert within_viewport(page, actions.bounding_box())
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.screenshot(path=artifacts / "phone-members.png", full_page=True)
