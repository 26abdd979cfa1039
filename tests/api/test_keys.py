from datetime import timedelta

from django.utils import timezone

from accounts.models import APIKey
from tests.api.conftest import bearer, session

KEYS = "/api/orgs/org-a/keys/"

KEY_FIELDS = {
    "id",
    "name",
    "prefix",
    "created_by",
    "created_at",
    "last_used_at",
    "expires_at",
    "revoked_at",
    "status",
    "is_management",
    "allowed_models",
    "rpm_limit",
    "tpm_limit",
    "budget_usd",
    "budget_pico",
    "budget_period",
    "allowed_ips",
    "paused_at",
    "max_price_usd",
}


def stored_text(key: APIKey) -> str:
    return " ".join(str(v) for v in APIKey.objects.filter(pk=key.pk).values().get().values())


def test_create_returns_the_secret_once(tenancy):
    client = session(tenancy.member)
    expires = (timezone.now() + timedelta(days=3)).isoformat()
    response = client.post(
        KEYS,
        {
            "name": "ci",
            "expires_at": expires,
            "allowed_models": ["gpt-4o-mini", "claude-3-haiku"],
            "rpm_limit": 60,
            "tpm_limit": 100_000,
            "budget_usd": "12.50",
            "budget_period": "week",
            "allowed_ips": ["203.0.113.7/24", "2001:DB8::1", " 10.0.0.1 "],
        },
        format="json",
    )

    assert response.status_code == 201
    body = response.json()
    assert set(body) == KEY_FIELDS | {"secret"}
    secret = body["secret"]
    assert secret.startswith(body["prefix"]) and secret.startswith("jinf_")
    assert body["created_by"] == "member@a.example"
    assert body["status"] == "active"
    assert body["allowed_models"] == ["claude-3-haiku", "gpt-4o-mini"]
    assert (body["rpm_limit"], body["tpm_limit"]) == (60, 100_000)
    assert (body["budget_usd"], body["budget_pico"]) == ("12.50", 12_500_000_000_000)
    assert body["budget_period"] == "week"
    # Normalized: the network of an address with host bits, a bare address as /32 or /128.
    assert body["allowed_ips"] == ["203.0.113.0/24", "2001:db8::1/128", "10.0.0.1/32"]
    assert body["is_management"] is False
    assert body["paused_at"] is None

    key = APIKey.objects.get(pk=body["id"], organization=tenancy.org)
    assert (key.budget_period, key.allowed_ips) == ("week", body["allowed_ips"])
    assert secret not in stored_text(key)
    for reading in (client.get(KEYS), client.get(f"{KEYS}{key.pk}/")):
        assert reading.status_code == 200
        assert secret not in reading.content.decode()
        assert key.digest not in reading.content.decode()
    detail = client.get(f"{KEYS}{key.pk}/").json()
    assert set(detail) == KEY_FIELDS
    assert detail["budget_usd"] == "12.50"


def test_list_never_shows_secrets_or_digests(tenancy):
    response = session(tenancy.owner).get(KEYS)
    assert response.status_code == 200
    assert {k["name"] for k in response.json()} == {"owner's key", "member's key"}
    text = response.content.decode()
    for new in (tenancy.owner_key, tenancy.member_key):
        assert new.secret not in text and new.key.digest not in text
    assert all(set(k) == KEY_FIELDS for k in response.json())


def test_member_cannot_create_a_management_key_but_admin_can(tenancy):
    body = {"name": "ops", "is_management": True}
    response = session(tenancy.member).post(KEYS, body, format="json")
    assert response.status_code == 403
    assert "admin or owner" in response.json()["detail"]
    assert not APIKey.objects.filter(name="ops").exists()

    response = session(tenancy.admin).post(KEYS, body, format="json")
    assert response.status_code == 201
    assert response.json()["is_management"] is True
    assert bearer(response.json()["secret"]).get("/api/orgs/org-a/").status_code == 200


def test_management_key_creates_keys_attributed_to_no_one(tenancy, mgmt_a):
    response = bearer(mgmt_a.secret).post(KEYS, {"name": "from automation"}, format="json")
    assert response.status_code == 201
    assert response.json()["created_by"] is None


def test_past_expiry_is_refused_naming_the_field(tenancy):
    past = (timezone.now() - timedelta(hours=1)).isoformat()
    response = session(tenancy.owner).post(KEYS, {"name": "x", "expires_at": past}, format="json")
    assert response.status_code == 400
    assert response.json() == {"expires_at": ["The expiry must lie in the future."]}
    assert not APIKey.objects.filter(name="x").exists()


def test_member_revokes_own_key_but_not_the_owners(tenancy):
    client = session(tenancy.member)
    owners = tenancy.owner_key.key
    response = client.post(f"{KEYS}{owners.pk}/revoke/")
    assert response.status_code == 403
    assert response.json() == {
        "detail": "Members can only change keys they created; ask an admin.",
        "code": "permission_denied",
    }
    owners.refresh_from_db()
    assert owners.is_active()

    own = tenancy.member_key.key
    response = client.post(f"{KEYS}{own.pk}/revoke/")
    assert response.status_code == 200
    assert response.json()["status"] == "revoked"
    own.refresh_from_db()
    assert not own.is_active()


def test_admin_revokes_any_key(tenancy):
    owners = tenancy.owner_key.key
    response = session(tenancy.admin).post(f"{KEYS}{owners.pk}/revoke/")
    assert response.status_code == 200
    owners.refresh_from_db()
    assert not owners.is_active()


def test_management_key_revokes_any_key(tenancy, mgmt_a):
    owners = tenancy.owner_key.key
    assert bearer(mgmt_a.secret).post(f"{KEYS}{owners.pk}/revoke/").status_code == 200
    owners.refresh_from_db()
    assert not owners.is_active()


def test_member_cannot_rotate_the_owners_key(tenancy):
    owners = tenancy.owner_key.key
    before = list(APIKey.objects.order_by("pk").values())
    response = session(tenancy.member).post(f"{KEYS}{owners.pk}/rotate/")
    assert response.status_code == 403
    assert list(APIKey.objects.order_by("pk").values()) == before


def test_rotate_returns_a_new_secret_and_retires_the_old_key(tenancy):
    old = tenancy.member_key
    response = session(tenancy.member).post(f"{KEYS}{old.key.pk}/rotate/")

    assert response.status_code == 201
    body = response.json()
    assert body["secret"] != old.secret and body["id"] != old.key.pk
    assert body["name"] == "member's key" and body["created_by"] == "member@a.example"
    old.key.refresh_from_db()
    assert not old.key.is_active()
    assert APIKey.objects.get(pk=body["id"]).rotated_from == old.key
    assert body["secret"] not in stored_text(APIKey.objects.get(pk=body["id"]))


def test_rotate_with_grace_keeps_the_old_key_until_then(tenancy):
    old = tenancy.owner_key.key
    response = session(tenancy.owner).post(
        f"{KEYS}{old.pk}/rotate/", {"grace_seconds": 3600}, format="json"
    )
    assert response.status_code == 201
    old.refresh_from_db()
    now = timezone.now()
    assert old.is_active(now) and old.status == "revoking"
    assert old.is_active(now + timedelta(minutes=59))
    assert not old.is_active(now + timedelta(minutes=61))


def test_rotated_management_key_works_through_grace_only(tenancy, mgmt_a):
    url = f"{KEYS}{mgmt_a.key.pk}/rotate/"
    response = bearer(mgmt_a.secret).post(url, {"grace_seconds": 600}, format="json")
    assert response.status_code == 201
    new_secret = response.json()["secret"]
    assert bearer(mgmt_a.secret).get("/api/orgs/").status_code == 200  # within grace
    assert bearer(new_secret).get("/api/orgs/").status_code == 200

    newer = bearer(new_secret).post(f"{KEYS}{response.json()['id']}/rotate/", format="json")
    assert newer.status_code == 201
    assert bearer(new_secret).get("/api/orgs/").status_code == 401  # no grace asked for


def test_revoked_key_cannot_be_rotated(tenancy):
    client = session(tenancy.owner)
    key = tenancy.owner_key.key
    client.post(f"{KEYS}{key.pk}/revoke/")
    response = client.post(f"{KEYS}{key.pk}/rotate/")
    assert response.status_code == 400
    assert "Only an active key can be rotated" in response.json()["detail"]


def test_rotating_a_key_already_rotated_is_a_conflict_naming_its_successor(tenancy):
    client = session(tenancy.owner)
    old = tenancy.owner_key.key
    first = client.post(f"{KEYS}{old.pk}/rotate/", {"grace_seconds": 3600}, format="json")
    assert first.status_code == 201
    successor = first.json()
    before = list(APIKey.objects.order_by("pk").values())

    again = client.post(f"{KEYS}{old.pk}/rotate/", {"grace_seconds": 60}, format="json")

    assert again.status_code == 409
    assert again.json()["code"] == "conflict"
    assert f"successor is {successor['prefix']}…" in again.json()["detail"]
    assert "jinf_" not in again.json()["detail"].replace(successor["prefix"], "")
    assert list(APIKey.objects.order_by("pk").values()) == before  # the grace is unchanged
    old.refresh_from_db()
    assert old.status == "revoking"

    # The successor is the key to rotate, and it rotates.
    newer = client.post(f"{KEYS}{successor['id']}/rotate/", format="json")
    assert newer.status_code == 201
    assert APIKey.objects.get(pk=newer.json()["id"]).rotated_from_id == successor["id"]


def test_rotation_keeps_the_limits_and_a_pause(tenancy):
    key = tenancy.member_key.key
    key.budget_period, key.allowed_ips = "month", ["192.0.2.0/24"]
    key.paused_at = timezone.now()
    key.save()
    response = session(tenancy.member).post(f"{KEYS}{key.pk}/rotate/", format="json")
    assert response.status_code == 201
    body = response.json()
    assert (body["budget_period"], body["allowed_ips"]) == ("month", ["192.0.2.0/24"])
    assert body["status"] == "paused" and body["paused_at"] is not None


def test_paused_key_shows_paused_and_only_an_admin_resumes_it(tenancy, mgmt_a):
    key = tenancy.member_key.key
    key.paused_at = timezone.now()
    key.save(update_fields=["paused_at"])
    assert session(tenancy.member).get(f"{KEYS}{key.pk}/").json()["status"] == "paused"

    refused = session(tenancy.member).post(f"{KEYS}{key.pk}/resume/")
    assert refused.status_code == 403
    assert refused.json()["detail"] == "Only an admin or owner can resume a paused key."
    key.refresh_from_db()
    assert key.paused_at is not None

    resumed = session(tenancy.admin).post(f"{KEYS}{key.pk}/resume/")
    assert resumed.status_code == 200
    assert (resumed.json()["status"], resumed.json()["paused_at"]) == ("active", None)
    key.refresh_from_db()
    assert key.paused_at is None

    other = tenancy.other_key.key
    other.paused_at = timezone.now()
    other.save(update_fields=["paused_at"])
    assert bearer(mgmt_a.secret).post(f"/api/orgs/org-a/keys/{other.pk}/resume/").status_code == 404
    other.refresh_from_db()
    assert other.paused_at is not None
