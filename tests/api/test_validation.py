"""Wrong types and out-of-range values answer 400 naming the field, never 500."""

import pytest

from accounts.models import APIKey, Invitation, Membership, Organization
from tests.api.conftest import session

KEYS = "/api/orgs/org-a/keys/"

CASES = [
    ("post", "keys/", {"name": "k", "rpm_limit": "abc"}, "rpm_limit"),
    ("post", "keys/", {"name": "k", "rpm_limit": -1}, "rpm_limit"),
    ("post", "keys/", {"name": "k", "tpm_limit": 1.5}, "tpm_limit"),
    ("post", "keys/", {"name": "k", "tpm_limit": 2**40}, "tpm_limit"),
    ("post", "keys/", {"name": "k", "budget_usd": "nan"}, "budget_usd"),
    ("post", "keys/", {"name": "k", "budget_usd": "Infinity"}, "budget_usd"),
    ("post", "keys/", {"name": "k", "budget_usd": "-1"}, "budget_usd"),
    ("post", "keys/", {"name": "k", "budget_usd": "ten dollars"}, "budget_usd"),
    ("post", "keys/", {"name": "k", "budget_usd": "1e20"}, "budget_usd"),
    # Above accounts.money.MAX_USD (USD 1,000,000); 9,223,373 once overflowed into a 500.
    ("post", "keys/", {"name": "k", "budget_usd": "9223373"}, "budget_usd"),
    ("post", "keys/", {"name": "k", "budget_usd": "1000000.000001"}, "budget_usd"),
    ("post", "keys/", {"name": "k", "rpm_limit": 2_147_483_648}, "rpm_limit"),
    ("post", "keys/", {"name": "k", "budget_period": "year"}, "budget_period"),
    ("post", "keys/", {"name": "k", "allowed_ips": ["10.0.0.0/33"]}, "allowed_ips"),
    ("post", "keys/", {"name": "k", "allowed_ips": ["localhost"]}, "allowed_ips"),
    ("post", "keys/", {"name": "k", "allowed_ips": "10.0.0.0/8"}, "allowed_ips"),
    ("post", "keys/", {"name": "k", "allowed_ips": ["2001:db8::/129"]}, "allowed_ips"),
    ("post", "keys/", {"name": "k", "expires_at": "2001-01-01T00:00:00Z"}, "expires_at"),
    ("patch", "keys/{key}/", {"budget_usd": "9223373"}, "budget_usd"),
    ("patch", "keys/{key}/", {"budget_usd": "-0.01"}, "budget_usd"),
    ("patch", "keys/{key}/", {"rpm_limit": -1}, "rpm_limit"),
    ("patch", "keys/{key}/", {"tpm_limit": 2**31}, "tpm_limit"),
    ("patch", "keys/{key}/", {"budget_period": "fortnight"}, "budget_period"),
    ("patch", "keys/{key}/", {"allowed_ips": ["192.168.1.300/24"]}, "allowed_ips"),
    ("patch", "keys/{key}/", {"expires_at": "2001-01-01T00:00:00Z"}, "expires_at"),
    ("patch", "keys/{key}/", {"name": ""}, "name"),
    ("patch", "keys/{key}/", {"name": None}, "name"),
    ("patch", "keys/{key}/", {"allowed_models": [None]}, "allowed_models"),
    ("delete", "members/{member}/", {"keys": "keep"}, "keys"),
    ("post", "keys/", {"name": "k", "allowed_models": "gpt-4o"}, "allowed_models"),
    ("post", "keys/", {"name": "k", "allowed_models": {"gpt-4o": 1}}, "allowed_models"),
    ("post", "keys/", {"name": "k", "allowed_models": [["gpt-4o"]]}, "allowed_models"),
    ("post", "keys/", {"name": "k", "expires_at": "next week"}, "expires_at"),
    ("post", "keys/", {"name": "k", "is_management": "perhaps"}, "is_management"),
    ("post", "keys/", {"name": ""}, "name"),
    ("post", "keys/", {"name": "k" * 101}, "name"),
    ("post", "keys/", {}, "name"),
    ("post", "keys/{key}/rotate/", {"grace_seconds": 2_592_001}, "grace_seconds"),
    ("post", "keys/{key}/rotate/", {"grace_seconds": -1}, "grace_seconds"),
    ("post", "keys/{key}/rotate/", {"grace_seconds": "soon"}, "grace_seconds"),
    ("post", "invitations/", {"email": "not an address"}, "email"),
    ("post", "invitations/", {"email": "x@a.example", "role": "king"}, "role"),
    ("patch", "members/{member}/", {"role": "king"}, "role"),
    ("patch", "members/{member}/", {}, "role"),
    ("patch", "", {"name": ""}, "name"),
    ("patch", "", {"name": ["Acme"]}, "name"),
]


def snapshot() -> list:
    return [
        list(model.objects.order_by("pk").values())
        for model in (APIKey, Invitation, Membership, Organization)
    ]


@pytest.mark.parametrize(("method", "path", "body", "field"), CASES)
def test_bad_input_is_400_naming_the_field(tenancy, method, path, body, field):
    member = Membership.objects.get(organization=tenancy.org, user=tenancy.member)
    url = "/api/orgs/org-a/" + path.format(key=tenancy.owner_key.key.pk, member=member.pk)
    before = snapshot()

    response = getattr(session(tenancy.owner), method)(url, body, format="json")

    assert response.status_code == 400, response.content
    assert list(response.json()) == [field]
    assert response.json()[field]  # the reason, e.g. ["A valid integer is required."]
    assert snapshot() == before


def test_body_that_is_not_json_is_400(tenancy):
    response = session(tenancy.owner).generic(
        "POST", KEYS, "{not json", content_type="application/json"
    )
    assert response.status_code == 400
    assert "JSON" in response.json()["detail"]


def test_a_budget_out_of_range_is_400_under_debug_too_and_shows_no_secret(tenancy, settings):
    settings.DEBUG = True
    client = session(tenancy.owner)
    client.raise_request_exception = False  # a 500 would be rendered, not raised
    before = snapshot()
    response = client.post(KEYS, {"name": "k", "budget_usd": "9223373"}, format="json")
    assert response.status_code == 400
    assert "budget_usd" in response.json()
    assert "jinf_" not in response.content.decode()
    assert snapshot() == before
