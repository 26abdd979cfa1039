from accounts.models import Membership, Organization, Role
from billing.services import credits_grant
from tests.api.conftest import bearer, session


def test_list_shows_each_membership_with_role_and_balance(tenancy):
    Membership.objects.create(user=tenancy.member, organization=tenancy.other_org, role=Role.ADMIN)
    credits_grant(organization=tenancy.org, amount_pico=1_250_000_000_000, reason="test")

    response = session(tenancy.member).get("/api/orgs/")

    assert response.status_code == 200
    assert response.json() == [
        {
            "slug": "org-a",
            "name": "Org A",
            "role": "member",
            "credit_balance_usd": "1.25",
            "credit_balance_pico": 1_250_000_000_000,
        },
        {
            "slug": "org-b",
            "name": "Org B",
            "role": "admin",
            "credit_balance_usd": "0.00",
            "credit_balance_pico": 0,
        },
    ]


def test_detail(tenancy):
    response = session(tenancy.admin).get("/api/orgs/org-a/")
    assert response.status_code == 200
    assert response.json()["name"] == "Org A"
    assert response.json()["role"] == "admin"


def test_admin_renames(tenancy):
    response = session(tenancy.admin).patch("/api/orgs/org-a/", {"name": " Acme "}, format="json")
    assert response.status_code == 200
    assert response.json()["name"] == "Acme"
    assert Organization.objects.get(slug="org-a").name == "Acme"


def test_management_key_renames(tenancy, mgmt_a):
    response = bearer(mgmt_a.secret).patch("/api/orgs/org-a/", {"name": "Acme"}, format="json")
    assert response.status_code == 200
    assert Organization.objects.get(slug="org-a").name == "Acme"


def test_member_cannot_rename(tenancy):
    response = session(tenancy.member).patch("/api/orgs/org-a/", {"name": "Mine"}, format="json")
    assert response.status_code == 403
    assert response.json() == {
        "detail": "Only an admin or owner can rename the organization.",
        "code": "permission_denied",
    }
    assert Organization.objects.get(slug="org-a").name == "Org A"
