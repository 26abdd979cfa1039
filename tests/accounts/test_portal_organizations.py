"""Home, creating an organization, the dashboard, settings, and the shared layout."""

from django.test import Client

from accounts.models import APIKey, Membership, Organization, Role
from accounts.services import api_key_revoke, organization_create
from billing.services import credits_grant
from tests.conftest import make_user


def test_home_sends_anonymous_users_to_sign_in(client, db):
    response = client.get("/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_home_opens_the_last_used_organization(tenancy):
    org_c = organization_create(name="Org C", owner=tenancy.member)
    client = tenancy.client(tenancy.member)
    first = client.get("/")["Location"]
    assert first == "/o/org-a/"  # by name, the first membership
    client.get(f"/o/{org_c.slug}/keys/")
    assert client.get("/")["Location"] == f"/o/{org_c.slug}/"


def test_home_without_organizations_asks_to_create_one(db):
    client = Client()
    client.force_login(make_user("lonely@example.com"))
    assert client.get("/")["Location"] == "/orgs/new/"


def test_create_organization_makes_the_creator_owner(db):
    user = make_user("founder@example.com")
    client = Client()
    client.force_login(user)
    response = client.post("/orgs/new/", {"name": "Acme Labs"})
    org = Organization.objects.get(name="Acme Labs")
    assert response["Location"] == f"/o/{org.slug}/"
    assert Membership.objects.get(user=user, organization=org).role == Role.OWNER
    response = client.post("/orgs/new/", {"name": "   "})
    assert response.status_code == 400 and b"This field is required." in response.content
    assert Organization.objects.count() == 1


def test_dashboard_shows_balance_active_keys_and_role(tenancy):
    credits_grant(organization=tenancy.org, amount_pico=12_345_000_000_000, reason="test")
    api_key_revoke(key=tenancy.member_key.key)
    page = tenancy.client(tenancy.admin).get("/o/org-a/").content.decode()
    assert "Org A" in page
    assert 'id="balance" title="$12.345">$12.35</span>' in page  # cents, exact on hover
    assert '<span class="value" id="active-keys">1</span>' in page
    assert '<span class="value" id="role">Admin</span>' in page


def test_nav_switches_between_my_organizations(tenancy):
    organization_create(name="Org C", owner=tenancy.member)
    page = tenancy.client(tenancy.member).get("/o/org-a/").content.decode()
    assert 'href="/o/org-a/"' in page and 'href="/o/org-c/"' in page
    assert 'href="/o/org-b/"' not in page


def test_admin_renames_member_cannot(tenancy):
    response = tenancy.client(tenancy.member).post("/o/org-a/settings/rename/", {"name": "X"})
    assert response.status_code == 403
    client = tenancy.client(tenancy.admin)
    response = client.post("/o/org-a/settings/rename/", {"name": ""})
    assert response.status_code == 400 and b"This field is required." in response.content
    response = client.post("/o/org-a/settings/rename/", {"name": "Org A Prime"}, follow=True)
    assert b"Renamed the organization to Org A Prime." in response.content
    tenancy.org.refresh_from_db()
    assert (tenancy.org.name, tenancy.org.slug) == ("Org A Prime", "org-a")


def test_settings_show_delete_to_owners_only(tenancy):
    assert b"/settings/delete/" in tenancy.client(tenancy.owner).get("/o/org-a/settings/").content
    assert (
        b"/settings/delete/" not in tenancy.client(tenancy.admin).get("/o/org-a/settings/").content
    )


def test_delete_needs_an_owner_and_the_typed_slug(tenancy):
    organization_create(name="Spare", owner=tenancy.owner)  # not the owner's only org
    url = "/o/org-a/settings/delete/"
    assert tenancy.client(tenancy.admin).post(url, {"confirm": "org-a"}).status_code == 403
    owner = tenancy.client(tenancy.owner)
    response = owner.post(url, {"confirm": "org-b"})
    assert response.status_code == 400 and b"Type org-a exactly" in response.content
    assert Membership.objects.filter(organization=tenancy.org).count() == 3

    response = owner.post(url, {"confirm": "org-a"}, follow=True)
    assert b"Deleted Org A" in response.content
    assert not Membership.objects.filter(organization=tenancy.org).exists()
    assert not any(k.is_active() for k in APIKey.objects.filter(organization=tenancy.org))
    assert owner.get("/o/org-a/").status_code == 404


def test_owner_cannot_delete_the_only_organization(tenancy):
    response = tenancy.client(tenancy.owner).post(
        "/o/org-a/settings/delete/", {"confirm": "org-a"}, follow=True
    )
    assert b"create another one before deleting this one" in response.content
    assert Membership.objects.filter(organization=tenancy.org).count() == 3


def test_posts_need_a_csrf_token(tenancy):
    client = Client(enforce_csrf_checks=True)
    client.force_login(tenancy.owner)
    response = client.post("/o/org-a/keys/", {"name": "no token"})
    assert response.status_code == 403
    assert b"This form has expired" in response.content
    assert APIKey.objects.filter(name="no token").count() == 0


def test_sign_in_pages_use_the_portal_layout(client, db):
    for url in ("/accounts/login/", "/accounts/signup/", "/accounts/password/reset/"):
        page = client.get(url).content.decode()
        assert "css/portal.css" in page and 'class="brand"' in page, url
        assert "Menu:" not in page  # allauth's bare default layout


def test_unknown_page_is_a_friendly_404(tenancy):
    response = tenancy.client(tenancy.owner).get("/o/no-such-org/")
    assert response.status_code == 404 and b"go to your dashboard" in response.content
