"""Another tenant's owner reaches nothing of organization A: every page and action is 404."""

import pytest
from django.forms.models import model_to_dict

from accounts.models import APIKey, Invitation, Membership, Organization

# (method, url template, POST data). {a_key}, {a_member}, {a_owner} are A's object ids.
ORG_A_URLS = [
    ("get", "/o/org-a/", {}),
    ("get", "/o/org-a/keys/", {}),
    ("post", "/o/org-a/keys/", {"name": "sneaky"}),
    ("post", "/o/org-a/keys/{a_key}/revoke/", {}),
    ("post", "/o/org-a/keys/{a_key}/rotate/", {"grace_hours": "0"}),
    ("get", "/o/org-a/members/", {}),
    ("post", "/o/org-a/members/", {"email": "x@b.example", "role": "member"}),
    ("post", "/o/org-a/members/{a_member}/role/", {"role": "owner"}),
    ("post", "/o/org-a/members/{a_member}/remove/", {}),
    ("post", "/o/org-a/members/{a_owner}/remove/", {}),
    ("post", "/o/org-a/leave/", {}),
    ("get", "/o/org-a/settings/", {}),
    ("post", "/o/org-a/settings/rename/", {"name": "Pwned"}),
    ("post", "/o/org-a/settings/delete/", {"confirm": "org-a"}),
]

# The outsider's own organization in the URL, A's object ids after it.
CROSS_TENANT_URLS = [
    ("post", "/o/org-b/keys/{a_key}/revoke/", {}),
    ("post", "/o/org-b/keys/{a_key}/rotate/", {"grace_hours": "0"}),
    ("post", "/o/org-b/members/{a_member}/role/", {"role": "owner"}),
    ("post", "/o/org-b/members/{a_member}/remove/", {}),
    ("post", "/o/org-b/members/{a_owner}/remove/", {}),
]


def snapshot() -> dict:
    return {
        model.__name__: sorted(
            (tuple(sorted(model_to_dict(obj).items(), key=str)) for obj in model.objects.all()),
            key=str,
        )
        for model in (Organization, Membership, Invitation, APIKey)
    }


def _ids(tenancy) -> dict:
    return {
        "a_key": tenancy.member_key.key.pk,
        "a_member": Membership.objects.get(user=tenancy.member, organization=tenancy.org).pk,
        "a_owner": Membership.objects.get(user=tenancy.owner, organization=tenancy.org).pk,
    }


@pytest.mark.parametrize(("method", "url", "data"), ORG_A_URLS + CROSS_TENANT_URLS)
def test_outsider_gets_404_and_changes_nothing(tenancy, method, url, data):
    before = snapshot()
    client = tenancy.client(tenancy.outsider)
    response = getattr(client, method)(url.format(**_ids(tenancy)), data)
    assert response.status_code == 404
    assert b"org-a" not in response.content and b"Org A" not in response.content
    assert snapshot() == before


@pytest.mark.parametrize(("method", "url", "data"), ORG_A_URLS)
def test_the_same_urls_work_for_an_owner_of_a(tenancy, method, url, data):
    """The 404s above come from tenancy, not from broken URLs."""
    # Delete, leave and self-removal are refused with a message: A is the owner's only
    # organization and he its only owner.
    client = tenancy.client(tenancy.owner)
    response = getattr(client, method)(url.format(**_ids(tenancy)), data)
    assert response.status_code in (200, 302)


def test_anonymous_is_sent_to_sign_in(tenancy, client):
    response = client.get("/o/org-a/keys/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=/o/org-a/keys/")
