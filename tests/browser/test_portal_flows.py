"""A newcomer's first key, and an invited member's limits, as a person in a browser."""

import re

import pytest
from django.core import mail
from playwright.sync_api import Page, expect

from accounts.models import APIKey, Membership, Role
from accounts.services import api_key_create, organization_create
from tests.conftest import PASSWORD, make_user

pytestmark = pytest.mark.browser

SECRET = re.compile(r"^jinf_[A-Za-z0-9_-]{40,}$")


def last_link_to(email: str, pattern: str) -> str:
    """The path of the newest link in a mail to `email`; the host is the live server's."""
    for message in reversed(mail.outbox):
        if email in message.to:
            return re.search(rf"https?://[^/\s]+({pattern}\S*)", message.body).group(1)
    raise AssertionError(f"no mail to {email} in {[m.to for m in mail.outbox]}")


def sign_up_and_verify(page: Page, email: str, start: str = "/accounts/signup/") -> None:
    page.goto(start)
    page.fill("input[name=email]", email)
    page.fill("input[name=password1]", PASSWORD)
    page.fill("input[name=password2]", PASSWORD)
    page.get_by_role("button", name="Sign Up").click()
    expect(page.get_by_role("heading", name="Verify Your Email Address")).to_be_visible()
    page.goto(last_link_to(email, "/accounts/confirm-email/"))
    page.get_by_role("button", name="Confirm").click()


def sign_in(page: Page, email: str) -> None:
    page.goto("/accounts/login/")
    page.fill("input[name=login]", email)
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name="Sign In").click()


def open_tab(page: Page, tab: str) -> None:
    page.get_by_role("navigation", name="Organization").get_by_role("link", name=tab).click()


def create_key(page: Page, name: str) -> str:
    open_tab(page, "API keys")
    page.get_by_label("Name").fill(name)
    page.get_by_role("button", name="Create key").click()
    expect(page.get_by_text("you won't see it again")).to_be_visible()
    secret = page.locator("#new-secret").inner_text().strip()
    assert SECRET.match(secret)
    return secret


def row_of(page: Page, key: APIKey):
    return page.locator(f"#key-{key.pk}")


def test_newcomer_signs_up_creates_and_revokes_a_key(page, artifacts):
    email = "newcomer@example.com"
    sign_up_and_verify(page, email)
    # Signed in, on the dashboard of the organization the sign-up made.
    expect(page.locator("#role")).to_have_text("Owner")
    expect(page.locator("#balance")).to_have_text("$0.05")

    secret = create_key(page, "laptop")
    copy = page.locator("button[data-copy]")
    expect(copy).to_be_visible()
    copy.click()
    expect(copy).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == secret
    page.screenshot(path=artifacts / "keys-secret.png", full_page=True)

    page.get_by_role("link", name="Done, back to the keys").click()
    key = APIKey.objects.get(name="laptop")
    assert secret not in page.content()
    expect(row_of(page, key)).to_contain_text(f"{key.prefix}…")
    expect(row_of(page, key)).to_contain_text("active")

    row_of(page, key).get_by_role("button", name="Revoke").click()
    expect(page.get_by_text("Revoked laptop")).to_be_visible()
    expect(row_of(page, key).locator(".status")).to_have_text("revoked")
    expect(row_of(page, key).get_by_role("button", name="Revoke")).to_have_count(0)
    page.screenshot(path=artifacts / "keys-list.png", full_page=True)
    key.refresh_from_db()
    assert key.status == "revoked"


def test_invited_member_joins_and_may_revoke_only_own_keys(new_page):
    owner = make_user("boss@example.com")
    org = organization_create(name="Acme", owner=owner, slug="acme")
    owners_key = api_key_create(organization=org, name="production", created_by=owner).key

    boss = new_page()
    sign_in(boss, owner.email)
    open_tab(boss, "Members")
    boss.get_by_label("Email").fill("teammate@example.com")
    boss.get_by_role("button", name="Send invitation").click()
    expect(boss.get_by_text("Sent an invitation to teammate@example.com")).to_be_visible()
    invite = last_link_to("teammate@example.com", "/invite/")

    # The teammate, in a browser of their own, has no account yet.
    mate = new_page()
    mate.goto(invite)
    expect(mate.get_by_role("heading", name="Join Acme")).to_be_visible()
    mate.get_by_role("link", name="Create an account").click()
    sign_up_and_verify(mate, "teammate@example.com", start=mate.url)
    # Back on the invitation after sign-up and verification.
    expect(mate).to_have_url(re.compile(re.escape(invite) + "$"))
    mate.get_by_role("button", name="Accept and join Acme").click()
    expect(mate).to_have_url(re.compile(r"/o/acme/$"))
    expect(mate.locator("#role")).to_have_text("Member")
    assert Membership.objects.get(user__email="teammate@example.com", organization=org).role == (
        Role.MEMBER
    )

    # Someone else's key: no button, and a forged POST from the page is refused.
    open_tab(mate, "API keys")
    expect(row_of(mate, owners_key)).to_contain_text("production")
    expect(row_of(mate, owners_key).get_by_role("button")).to_have_count(0)
    status = mate.evaluate(
        """async (url) => {
            const token = document.querySelector("input[name=csrfmiddlewaretoken]").value;
            const body = new URLSearchParams({csrfmiddlewaretoken: token});
            return (await fetch(url, {method: "POST", body})).status;
        }""",
        f"/o/acme/keys/{owners_key.pk}/revoke/",
    )
    assert status == 403
    owners_key.refresh_from_db()
    assert owners_key.status == "active"

    # Their own key: created, then revoked.
    create_key(mate, "teammate's laptop")
    mate.get_by_role("link", name="Done, back to the keys").click()
    own = APIKey.objects.get(name="teammate's laptop")
    row_of(mate, own).get_by_role("button", name="Revoke").click()
    expect(row_of(mate, own).locator(".status")).to_have_text("revoked")
    owners_key.refresh_from_db()
    assert owners_key.status == "active"
