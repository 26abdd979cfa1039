"""Tenancy and authentication: other tenants' organizations and objects answer 404, never
403, and change nothing; only sessions and live management keys get in."""

import pytest

from accounts.models import Membership
from accounts.services import api_key_revoke
from tests.api.conftest import bearer, db_snapshot, management_key, session

# (method, path under /api/orgs/, JSON body); {slug}, {key}, {member} are filled in.
OBJECT_ENDPOINTS = [
    ("get", "{slug}/keys/{key}/", None),
    ("post", "{slug}/keys/{key}/revoke/", None),
    ("post", "{slug}/keys/{key}/rotate/", {"grace_seconds": 60}),
    ("patch", "{slug}/members/{member}/", {"role": "admin"}),
    ("delete", "{slug}/members/{member}/", None),
]
ORG_ENDPOINTS = [
    ("get", "{slug}/", None),
    ("patch", "{slug}/", {"name": "Taken over"}),
    ("get", "{slug}/members/", None),
    ("post", "{slug}/invitations/", {"email": "spy@b.example", "role": "admin"}),
    ("get", "{slug}/keys/", None),
    ("post", "{slug}/keys/", {"name": "planted", "is_management": True}),
    *OBJECT_ENDPOINTS,
]


def call(client, method, path, body, tenancy, slug):
    member = Membership.objects.get(organization=tenancy.org, user=tenancy.member)
    url = "/api/orgs/" + path.format(slug=slug, key=tenancy.member_key.key.pk, member=member.pk)
    return getattr(client, method)(url, body, format="json")


def outsiders(tenancy):
    return {
        "session": session(tenancy.outsider),
        "management key": bearer(management_key(tenancy.other_org).secret),
    }


@pytest.mark.parametrize("who", ["session", "management key"])
@pytest.mark.parametrize(("method", "path", "body"), ORG_ENDPOINTS)
def test_other_tenant_gets_404_for_org_a(tenancy, who, method, path, body):
    client = outsiders(tenancy)[who]
    before = db_snapshot()

    response = call(client, method, path, body, tenancy, slug="org-a")

    assert response.status_code == 404
    assert response.json()["detail"] == "No such organization."
    assert db_snapshot() == before
    # The same request from inside organization A does reach the endpoint.
    assert call(session(tenancy.owner), method, path, body, tenancy, "org-a").status_code != 404


@pytest.mark.parametrize("who", ["session", "management key"])
@pytest.mark.parametrize(("method", "path", "body"), OBJECT_ENDPOINTS)
def test_org_a_object_ids_under_own_slug_get_404(tenancy, who, method, path, body):
    client = outsiders(tenancy)[who]
    before = db_snapshot()

    response = call(client, method, path, body, tenancy, slug="org-b")

    assert response.status_code == 404
    assert response.json()["detail"] in ("No such key.", "No such member.")
    assert db_snapshot() == before


def test_org_list_shows_only_own_organizations(tenancy, mgmt_b):
    for client in (session(tenancy.outsider), bearer(mgmt_b.secret)):
        response = client.get("/api/orgs/")
        assert response.status_code == 200
        assert [org["slug"] for org in response.json()] == ["org-b"]


def test_unknown_organization_is_404_like_a_foreign_one(tenancy):
    response = session(tenancy.owner).get("/api/orgs/no-such-org/")
    assert response.status_code == 404
    assert response.json()["detail"] == "No such organization."


def test_anonymous_gets_401_with_a_message(db):
    from rest_framework.test import APIClient

    response = APIClient().get("/api/orgs/")
    assert response.status_code == 401
    assert response.json()["detail"]
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_ordinary_key_gets_401_telling_to_use_a_management_key(tenancy):
    response = bearer(tenancy.owner_key.secret).get("/api/orgs/")
    assert response.status_code == 401
    assert "management key" in response.json()["detail"]


def test_revoked_management_key_gets_401(tenancy, mgmt_a):
    client = bearer(mgmt_a.secret)
    assert client.get("/api/orgs/org-a/").status_code == 200

    api_key_revoke(key=mgmt_a.key)

    response = client.get("/api/orgs/org-a/")
    assert response.status_code == 401
    assert "revoked" in response.json()["detail"]


def test_unknown_key_gets_401(db):
    response = bearer("jinf_not-a-real-key").get("/api/orgs/")
    assert response.status_code == 401


def test_management_key_sees_its_own_organization_as_admin(tenancy, mgmt_a):
    response = bearer(mgmt_a.secret).get("/api/orgs/")
    assert response.status_code == 200
    assert response.json() == [
        {
            "slug": "org-a",
            "name": "Org A",
            "role": "admin",
            "credit_balance_usd": "0.00",
            "credit_balance_pico": 0,
        }
    ]
