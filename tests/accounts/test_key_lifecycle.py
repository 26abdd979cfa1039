"""Keys do not outlive their owners: removed members, deleted organizations, rotations."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts import services
from accounts.errors import Conflict, DomainError
from accounts.models import APIKey, Membership, Role
from accounts.services import api_key_create, api_key_rotate, organization_create

MEMBERS = "/o/org-a/members/"
KEYS = "/o/org-a/keys/"


def membership(tenancy, user) -> Membership:
    return Membership.objects.get(user=user, organization=tenancy.org)


@pytest.fixture
def member_keys(tenancy):
    """The member's keys in A: one active, one rotated with a day's grace (so two keys,
    the old one still working), one revoked long ago; and one of their own in B."""
    graced = api_key_create(organization=tenancy.org, name="graced", created_by=tenancy.member)
    successor = api_key_rotate(key=graced.key, grace=timedelta(days=1))
    old = api_key_create(organization=tenancy.org, name="old", created_by=tenancy.member).key
    old.revoked_at = timezone.now() - timedelta(days=3)
    old.save(update_fields=["revoked_at"])
    Membership.objects.create(user=tenancy.member, organization=tenancy.other_org)
    in_b = api_key_create(organization=tenancy.other_org, name="b", created_by=tenancy.member)
    return {
        "active": tenancy.member_key.key,
        "graced": graced.key,
        "successor": successor.key,
        "old": old,
        "in_b": in_b.key,
    }


def fresh(key: APIKey) -> APIKey:
    return APIKey.objects.get(pk=key.pk)


def test_removing_a_member_revokes_every_key_they_made_here_grace_included(tenancy, member_keys):
    acting = membership(tenancy, tenancy.admin)
    old_revoked_at = member_keys["old"].revoked_at

    count = services.membership_remove(acting=acting, target=membership(tenancy, tenancy.member))

    assert count == 3  # active, graced (cut short) and its successor
    for name in ("active", "graced", "successor"):
        assert fresh(member_keys[name]).status == "revoked", name
    assert fresh(member_keys["old"]).revoked_at == old_revoked_at  # history unchanged
    assert fresh(member_keys["in_b"]).status == "active"  # another organization's key
    assert fresh(tenancy.owner_key.key).status == "active"


def test_reassigning_hands_the_working_keys_to_the_remover(tenancy, member_keys):
    acting = membership(tenancy, tenancy.owner)
    target = membership(tenancy, tenancy.member)

    count = services.membership_remove(acting=acting, target=target, keys="reassign")

    assert count == 3
    for name in ("active", "graced", "successor"):
        key = fresh(member_keys[name])
        assert key.created_by == tenancy.owner and key.is_active(), name
    assert fresh(member_keys["old"]).created_by == tenancy.member  # a revoked key's history
    assert fresh(member_keys["in_b"]).created_by == tenancy.member


def test_an_unknown_keys_choice_removes_no_one(tenancy):
    target = membership(tenancy, tenancy.member)
    with pytest.raises(DomainError, match="revoke or reassign"):
        services.membership_remove(
            acting=membership(tenancy, tenancy.owner), target=target, keys="keep"
        )
    assert Membership.objects.filter(pk=target.pk).exists()
    assert fresh(tenancy.member_key.key).status == "active"


def test_deleting_an_organization_revokes_keys_in_their_grace_period(tenancy):
    organization_create(name="Spare", owner=tenancy.owner)  # not the owner's only org
    successor = api_key_rotate(key=tenancy.owner_key.key, grace=timedelta(days=7))
    assert fresh(tenancy.owner_key.key).status == "revoking"

    response = tenancy.client(tenancy.owner).post("/o/org-a/settings/delete/", {"confirm": "org-a"})

    assert response.status_code == 302
    now = timezone.now()
    for key in (tenancy.owner_key.key, successor.key, tenancy.member_key.key):
        key = fresh(key)
        assert key.status == "revoked" and key.revoked_at <= now, key.name
    assert not any(k.is_active(now) for k in APIKey.objects.filter(organization=tenancy.org))
    assert fresh(tenancy.other_key.key).status == "active"


def test_rotating_a_rotated_key_is_a_conflict_and_changes_nothing(tenancy):
    key = tenancy.owner_key.key
    first = api_key_rotate(key=key, grace=timedelta(hours=1))
    before = list(APIKey.objects.order_by("pk").values())
    with pytest.raises(Conflict, match=f"successor is {first.key.prefix}…"):
        api_key_rotate(key=fresh(key), grace=timedelta(hours=2))
    assert list(APIKey.objects.order_by("pk").values()) == before
    # The successor rotates.
    second = api_key_rotate(key=first.key)
    assert second.key.rotated_from == first.key


# --- The portal -------------------------------------------------------------------------


def test_members_page_offers_to_revoke_or_reassign(tenancy):
    page = tenancy.client(tenancy.admin).get(MEMBERS).content.decode()
    assert 'name="keys"' in page
    assert 'value="revoke" selected' in page and 'value="reassign"' in page


def test_portal_removal_revokes_by_default(tenancy):
    target = membership(tenancy, tenancy.member)
    response = tenancy.client(tenancy.admin).post(f"{MEMBERS}{target.pk}/remove/", follow=True)
    assert b"Removed member@a.example from Org A. Revoked 1 key they created." in response.content
    assert fresh(tenancy.member_key.key).status == "revoked"


def test_portal_removal_can_reassign(tenancy):
    target = membership(tenancy, tenancy.member)
    response = tenancy.client(tenancy.admin).post(
        f"{MEMBERS}{target.pk}/remove/", {"keys": "reassign"}, follow=True
    )
    assert b"Reassigned 1 key they created to you." in response.content
    key = fresh(tenancy.member_key.key)
    assert key.status == "active" and key.created_by == tenancy.admin


def test_portal_removal_with_a_forged_choice_removes_no_one(tenancy):
    target = membership(tenancy, tenancy.member)
    response = tenancy.client(tenancy.admin).post(
        f"{MEMBERS}{target.pk}/remove/", {"keys": "keep"}, follow=True
    )
    assert b"Choose whether to revoke or reassign" in response.content
    assert Membership.objects.filter(pk=target.pk).exists()


def test_leaving_revokes_your_keys(tenancy):
    response = tenancy.client(tenancy.member).post(
        "/o/org-a/leave/", {"keys": "reassign"}, follow=True
    )
    assert b"You left Org A. Revoked 1 key you created there." in response.content
    key = fresh(tenancy.member_key.key)
    assert key.status == "revoked"


def test_portal_rotating_a_rotated_key_is_a_message_naming_the_successor(tenancy):
    client = tenancy.client(tenancy.owner)
    key = tenancy.owner_key.key
    client.post(f"{KEYS}{key.pk}/rotate/", {"grace_hours": "5"})
    successor = APIKey.objects.get(rotated_from=key)

    response = client.post(f"{KEYS}{key.pk}/rotate/", {"grace_hours": "1"}, follow=True)

    assert response.status_code == 200
    assert f"its successor is {successor.prefix}…".encode() in response.content
    assert APIKey.objects.filter(organization=tenancy.org).count() == 3  # no third secret
    assert fresh(key).status == "revoking"
    # Rotating the successor works and shows its new secret.
    response = client.post(f"{KEYS}{successor.pk}/rotate/", {"grace_hours": "0"})
    assert response.status_code == 200 and b"won't see it again" in response.content
    assert APIKey.objects.filter(rotated_from=successor).exists()


def test_a_refused_removal_touches_no_keys(tenancy):
    Membership.objects.filter(user=tenancy.admin, organization=tenancy.org).update(role=Role.MEMBER)
    target = membership(tenancy, tenancy.owner)
    response = tenancy.client(tenancy.admin).post(f"{MEMBERS}{target.pk}/remove/")
    assert response.status_code == 403
    assert fresh(tenancy.owner_key.key).status == "active"
