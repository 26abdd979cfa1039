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
