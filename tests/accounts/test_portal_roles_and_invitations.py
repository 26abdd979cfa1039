"""Issue 12: admins see only what they may do, a 403 that says what to do, and
invitations that do not pile up, can be cancelled or resent, and prefill the sign-up."""

import re

import pytest
from django.test import TestCase

from accounts import keys
from accounts.models import Invitation, Membership, Role
from accounts.services import invitation_create

MEMBERS = "/o/org-a/members/"


def owner_of(tenancy) -> Membership:
    return Membership.objects.get(user=tenancy.owner, organization=tenancy.org)


def row(html: str, anchor: str) -> str:
    start = html.index(anchor)
    return html[start : html.index("</tr>", start)]


def test_an_admin_is_not_offered_owner_controls(tenancy):
    owner = owner_of(tenancy)
    html = tenancy.client(tenancy.admin).get(MEMBERS).content.decode()
    owner_row = row(html, f'id="member-{owner.pk}"')
    assert "member_role" not in owner_row and "<select" not in owner_row
    assert "Remove" not in owner_row
    member = Membership.objects.get(user=tenancy.member)
    member_row = row(html, f'id="member-{member.pk}"')
    assert 'value="admin"' in member_row and 'value="owner"' not in member_row
    assert "Remove" in member_row
    invite = html[html.index('id="invite"') :]
    invite = invite[: invite.index("</form>")]
    assert 'value="member"' in invite and 'value="owner"' not in invite
    # The owner is offered all of it.
    html = tenancy.client(tenancy.owner).get(MEMBERS).content.decode()
    assert 'value="owner"' in row(html, f'id="member-{member.pk}"')


def test_a_forbidden_action_explains_and_links_back(tenancy):
    owner = owner_of(tenancy)
    response = tenancy.client(tenancy.admin).post(f"{MEMBERS}{owner.pk}/role/", {"role": "member"})
    assert response.status_code == 403
    html = response.content.decode()
    assert "Only an owner can make or unmake owners." in html
    assert "Ask one of its owners or admins" in html
    assert 'href="/o/org-a/"' in html and 'href="/o/org-a/members/"' in html
    assert 'aria-label="Organization"' in html  # the tabs are there too


def test_inviting_the_same_address_again_replaces_the_open_invitation(tenancy, mailoutbox):
    client = tenancy.client(tenancy.owner)
    with TestCase.captureOnCommitCallbacks(execute=True):
        client.post(MEMBERS, {"email": "new@example.com", "role": "member"})
    with TestCase.captureOnCommitCallbacks(execute=True):
        client.post(MEMBERS, {"email": "New@Example.com", "role": "admin"})
    open_ = Invitation.objects.filter(organization=tenancy.org, accepted_at=None)
    assert [(i.email, i.role) for i in open_] == [("new@example.com", "admin")]
    first, second = (re.search(r"/invite/(\S+)/", m.body).group(1) for m in mailoutbox[-2:])
    assert client.get(f"/invite/{first}/").status_code == 404
    assert client.get(f"/invite/{second}/").status_code == 200


def test_cancel_and_resend(tenancy, mailoutbox):
    client = tenancy.client(tenancy.admin)
    with TestCase.captureOnCommitCallbacks(execute=True):
        new = invitation_create(membership=owner_of(tenancy), email="x@example.com")
    inv = new.invitation
    html = client.get(MEMBERS).content.decode()
    assert f"/invitations/{inv.pk}/cancel/" in html and f"/invitations/{inv.pk}/resend/" in html

    Invitation.objects.filter(pk=inv.pk).update(expires_at=inv.created_at)  # expired
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = client.post(f"/o/org-a/invitations/{inv.pk}/resend/", follow=True)
    assert "Sent a new invitation to x@example.com" in response.content.decode()
    inv.refresh_from_db()
    assert inv.is_open and inv.token_digest != keys.digest(new.token)
    token = re.search(r"/invite/(\S+)/", mailoutbox[-1].body).group(1)
    assert inv.token_digest == keys.digest(token)

    response = client.post(f"/o/org-a/invitations/{inv.pk}/cancel/", follow=True)
    assert "Cancelled the invitation of x@example.com" in response.content.decode()
    assert not Invitation.objects.filter(pk=inv.pk).exists()


@pytest.mark.parametrize("who", ["member", "outsider"])
def test_members_and_outsiders_cannot_cancel_or_resend(tenancy, who):
    inv = invitation_create(membership=owner_of(tenancy), email="x@example.com").invitation
    client = tenancy.client(getattr(tenancy, who))
    for action in ("cancel", "resend"):
        response = client.post(f"/o/org-a/invitations/{inv.pk}/{action}/")
        assert response.status_code == (403 if who == "member" else 404)
    assert Invitation.objects.filter(pk=inv.pk).exists()


def test_another_organizations_invitation_is_404(tenancy):
    theirs = Membership.objects.get(user=tenancy.outsider)
    inv = invitation_create(membership=theirs, email="x@example.com").invitation
    response = tenancy.client(tenancy.owner).post(f"/o/org-a/invitations/{inv.pk}/cancel/")
    assert response.status_code == 404
    assert Invitation.objects.filter(pk=inv.pk).exists()


def test_an_admin_cannot_cancel_an_owner_invitation(tenancy):
    inv = invitation_create(
        membership=owner_of(tenancy), email="o@example.com", role=Role.OWNER
    ).invitation
    response = tenancy.client(tenancy.admin).post(f"/o/org-a/invitations/{inv.pk}/cancel/")
    assert response.status_code == 403
    assert Invitation.objects.filter(pk=inv.pk).exists()


def test_the_sign_up_link_prefills_the_invitees_email(client, tenancy):
    new = invitation_create(membership=owner_of(tenancy), email="new@example.com")
    html = client.get(f"/invite/{new.token}/").content.decode()
    link = re.search(r'href="(/accounts/signup/[^"]+)"', html).group(1).replace("&amp;", "&")
    signup = client.get(link).content.decode()
    assert re.search(r'<input[^>]+name="email"[^>]+value="new@example.com"', signup) or re.search(
        r'<input[^>]+value="new@example.com"[^>]+name="email"', signup
    )


def test_a_cancelled_invitation_is_not_emailed(tenancy, mailoutbox):
    from accounts.tasks import invitation_send

    new = invitation_create(membership=owner_of(tenancy), email="gone@example.com")
    new.invitation.delete()
    invitation_send(new.invitation.pk, new.token)  # the worker gets to it afterwards
    assert not mailoutbox
