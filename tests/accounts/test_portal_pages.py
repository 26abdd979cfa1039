"""Issue 12: the portal's 404 (DEBUG or not), the favicon, and the organization's tabs on
account pages."""

from pathlib import Path

import pytest
from django.contrib.staticfiles import finders

TABS = 'aria-label="Organization"'


@pytest.mark.parametrize("debug", [False, True])
@pytest.mark.parametrize("path", ["/no-such-page/", "/o/org-b/keys/", "/o/org-a/keys/999999/"])
def test_not_found_is_the_portals_page(tenancy, settings, debug, path):
    settings.DEBUG = debug
    response = tenancy.client(tenancy.owner).get(path)
    assert response.status_code == 404
    html = response.content.decode()
    assert "<h1>Page not found</h1>" in html
    assert "DEBUG = True" not in html and "URLconf" not in html
    assert 'href="/"' in html


def test_every_page_links_the_favicon(tenancy):
    html = tenancy.client(tenancy.owner).get("/o/org-a/keys/").content.decode()
    assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in html
    assert finders.find("favicon.svg")
    assert Path(finders.find("favicon.svg")).read_text().startswith("<svg")


@pytest.mark.parametrize("path", ["/accounts/email/", "/accounts/password/change/", "/orgs/new/"])
def test_account_pages_keep_the_organization_tabs(tenancy, path):
    client = tenancy.client(tenancy.owner)
    client.get("/o/org-a/keys/")  # the organization last visited
    html = client.get(path).content.decode()
    assert TABS in html
    assert 'href="/o/org-a/keys/"' in html and 'href="/o/org-a/members/"' in html


def test_tabs_follow_the_last_organization_visited(tenancy):
    from accounts.models import Membership, Role

    Membership.objects.create(user=tenancy.owner, organization=tenancy.other_org, role=Role.MEMBER)
    client = tenancy.client(tenancy.owner)
    client.get("/o/org-b/keys/")
    html = client.get("/accounts/email/").content.decode()
    assert 'href="/o/org-b/keys/"' in html and 'href="/o/org-a/keys/"' not in html


def _field_block(html: str, name: str) -> str:
    start = html.index(f'id="id_{name}_field"')
    return html[start : html.index("</div>\n", html.index(f'name="{name}"', start))]


def test_password_errors_sit_under_their_own_field(client, db):
    common = client.post(
        "/accounts/signup/",
        {"email": "a@b.example", "password1": "password", "password2": "password"},
    ).content.decode()
    assert "This password is too common." in _field_block(common, "password1")
    assert "too common" not in _field_block(common, "email")
    # Each error follows its own input, before the next field starts.
    assert common.index('name="password1"') < common.index("too common")
    assert common.index("too common") < common.index('id="id_password2_field"')

    mismatch = client.post(
        "/accounts/signup/",
        {"email": "a@b.example", "password1": "Xy9!long-pass-zz", "password2": "other-Xy9!zz"},
    ).content.decode()
    block = _field_block(mismatch, "password2")
    assert "You must type the same password each time." in block
    assert block.index('name="password2"') < block.index("same password")
    assert "same password" not in _field_block(mismatch, "password1")


def test_password_change_errors_sit_under_their_own_field(tenancy):
    client = tenancy.client(tenancy.owner)
    html = client.post(
        "/accounts/password/change/",
        {"oldpassword": "wrong", "password1": "Xy9!long-pass-zz", "password2": "Xy9!long-pass-zz"},
    ).content.decode()
    block = _field_block(html, "oldpassword")
    assert block.index('name="oldpassword"') < block.index("Please type your current password.")
