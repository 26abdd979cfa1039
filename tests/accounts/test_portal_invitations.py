"""Accepting an invitation from its link."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import Membership, Role
from accounts.services import invitation_create
from tests.conftest import make_user


@pytest.fixture
def invite(tenancy):
    owner = Membership.objects.get(user=tenancy.owner, organization=tenancy.org)
    return invitation_create(membership=owner, email="new@example.com", role=Role.ADMIN)


def link(invite) -> str:
    return f"/invite/{invite.token}/"


def test_anonymous_is_offered_sign_in_and_sign_up_that_come_back(client, invite):
    response = client.get(link(invite))
    assert response.status_code == 200
    page = response.content.decode()
    assert "Join Org A" in page and "new@example.com" in page
    assert f"/accounts/login/?next=/invite/{invite.token}/" in page
    assert f"/accounts/signup/?next=/invite/{invite.token}/" in page
    client.post(link(invite))
    assert not Membership.objects.filter(user__email="new@example.com").exists()


def test_invitee_accepts_and_lands_on_the_dashboard(client, invite):
    user = make_user("new@example.com")
    client.force_login(user)
    assert b"Accept and join Org A" in client.get(link(invite)).content
    response = client.post(link(invite))
    assert response.status_code == 302 and response["Location"] == "/o/org-a/"
    assert Membership.objects.get(user=user, organization__slug="org-a").role == Role.ADMIN
    invite.invitation.refresh_from_db()
    assert invite.invitation.accepted_at is not None
    # Used once: the link no longer works.
    response = client.get(link(invite))
    assert response.status_code == 400 and b"already used or has expired" in response.content


def test_someone_else_cannot_accept(tenancy, invite):
    client = tenancy.client(tenancy.outsider)
    assert b"this invitation is for new@example.com" in client.get(link(invite)).content
    response = client.post(link(invite))
    assert response.status_code == 403
    assert b"sign in with that address" in response.content
    assert not Membership.objects.filter(user=tenancy.outsider, organization=tenancy.org).exists()


def test_unknown_token_is_404(tenancy):
    client = tenancy.client(tenancy.outsider)
    for method in (client.get, client.post):
        response = method("/invite/not-a-real-token/")
        assert response.status_code == 404
        assert b"This invitation link is not valid; ask for a new one." in response.content


def test_expired_invitation_is_400(client, invite):
    invite.invitation.expires_at = timezone.now() - timedelta(seconds=1)
    invite.invitation.save(update_fields=["expires_at"])
    client.force_login(make_user("new@example.com"))
    response = client.post(link(invite))
    assert response.status_code == 400 and b"ask for a new one" in response.content
    assert not Membership.objects.filter(user__email="new@example.com").exists()
