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
