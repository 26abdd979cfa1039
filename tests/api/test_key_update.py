"""PATCH /api/orgs/{slug}/keys/{id}/: a key's name and limits, partially; null clears."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import APIKey
from tests.api.conftest import bearer, db_snapshot, session

KEYS = "/api/orgs/org-a/keys/"


def url(key: APIKey) -> str:
    return f"{KEYS}{key.pk}/"


def test_member_changes_the_limits_of_their_own_key(tenancy):
    key = tenancy.member_key.key
    expires = timezone.now() + timedelta(days=10)
    response = session(tenancy.member).patch(
        url(key),
        {
            "name": "renamed",
            "allowed_models": ["b-model", "a-model", "a-model"],
            "rpm_limit": 30,
            "tpm_limit": 5000,
            "budget_usd": "7.25",
            "budget_period": "day",
            "allowed_ips": ["198.51.100.9/24", "::1"],
            "expires_at": expires.isoformat(),
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["name"] == "renamed"
    assert body["allowed_models"] == ["a-model", "b-model"]
    assert (body["rpm_limit"], body["tpm_limit"]) == (30, 5000)
    assert (body["budget_usd"], body["budget_pico"], body["budget_period"]) == (
        "7.25",
        7_250_000_000_000,
        "day",
    )
    assert body["allowed_ips"] == ["198.51.100.0/24", "::1/128"]
    assert "secret" not in body

    key.refresh_from_db()
    assert (key.name, key.rpm_limit, key.tpm_limit, key.budget_pico) == (
        "renamed",
        30,
        5000,
        7_250_000_000_000,
    )
    assert (key.budget_period, key.allowed_ips) == ("day", ["198.51.100.0/24", "::1/128"])
    assert abs(key.expires_at - expires) < timedelta(seconds=1)


def test_only_the_fields_sent_change_and_null_clears_a_limit(tenancy):
    key = tenancy.owner_key.key
    key.rpm_limit, key.tpm_limit, key.budget_pico = 10, 20, 30
    key.allowed_models, key.allowed_ips, key.budget_period = ["m"], ["10.0.0.0/8"], "week"
    key.expires_at = timezone.now() + timedelta(days=1)
    key.save()

    client = session(tenancy.owner)
    response = client.patch(url(key), {"tpm_limit": 99}, format="json")
    assert response.status_code == 200
    key.refresh_from_db()
    assert (key.rpm_limit, key.tpm_limit, key.budget_pico) == (10, 99, 30)
    assert key.allowed_models == ["m"] and key.name == "owner's key"

    cleared = {
        "rpm_limit": None,
        "tpm_limit": None,
        "budget_usd": None,
        "allowed_models": None,
        "allowed_ips": None,
        "budget_period": None,
        "expires_at": None,
    }
    assert client.patch(url(key), cleared, format="json").status_code == 200
    key.refresh_from_db()
    assert (key.rpm_limit, key.tpm_limit, key.budget_pico, key.expires_at) == (None,) * 4
    assert (key.allowed_models, key.allowed_ips, key.budget_period) == ([], [], "total")


def test_member_cannot_change_someone_elses_key(tenancy):
    client = session(tenancy.member)  # before the snapshot: signing in sets last_login
    before = db_snapshot()
    response = client.patch(url(tenancy.owner_key.key), {"rpm_limit": 1}, format="json")
    assert response.status_code == 403
    assert response.json()["detail"] == "Members can only change keys they created; ask an admin."
    assert db_snapshot() == before


@pytest.mark.parametrize("who", ["owner", "admin"])
def test_admins_and_owners_change_any_key(tenancy, who):
    key = tenancy.member_key.key
    response = session(getattr(tenancy, who)).patch(url(key), {"rpm_limit": 7}, format="json")
    assert response.status_code == 200
    key.refresh_from_db()
    assert key.rpm_limit == 7


def test_management_key_acts_as_admin(tenancy, mgmt_a):
    key = tenancy.member_key.key
    response = bearer(mgmt_a.secret).patch(url(key), {"budget_usd": "3"}, format="json")
    assert response.status_code == 200
    key.refresh_from_db()
    assert key.budget_pico == 3_000_000_000_000


def test_another_organizations_key_is_404(tenancy, mgmt_b):
    other = tenancy.other_key.key
    client = session(tenancy.owner)  # before the snapshot: signing in sets last_login
    before = db_snapshot()
    assert client.patch(url(other), {"rpm_limit": 1}, format="json").status_code == 404
    # B's own management key cannot reach A's keys through A's slug, nor through its own.
    own = tenancy.owner_key.key
    b = bearer(mgmt_b.secret)
    assert b.patch(url(own), {"rpm_limit": 1}, format="json").status_code == 404
    assert (
        b.patch(f"/api/orgs/org-b/keys/{own.pk}/", {"rpm_limit": 1}, format="json").status_code
        == 404
    )
    assert db_snapshot() == before


def test_a_revoked_key_cannot_change(tenancy):
    key = tenancy.member_key.key
    client = session(tenancy.member)
    client.post(f"{url(key)}revoke/")
    response = client.patch(url(key), {"rpm_limit": 1}, format="json")
    assert response.status_code == 400
    assert "revoked" in response.json()["detail"]
    key.refresh_from_db()
    assert key.rpm_limit is None


def test_the_schema_documents_the_patch(tenancy):
    schema = session(tenancy.owner).get("/api/schema/?format=json").json()
    operation = schema["paths"]["/api/orgs/{slug}/keys/{key_id}/"]["patch"]
    assert operation["operationId"] == "keys_update"
    body = schema["components"]["schemas"]["PatchedKeyUpdate"]["properties"]
    assert {"budget_period", "allowed_ips", "budget_usd", "expires_at"} <= set(body)
