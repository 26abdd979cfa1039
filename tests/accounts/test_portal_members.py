"""The members page: inviting, changing roles, removing and leaving."""

from accounts.models import Invitation, Membership, Role

MEMBERS = "/o/org-a/members/"


def membership(tenancy, user) -> Membership:
    return Membership.objects.get(user=user, organization=tenancy.org)


def test_members_page_lists_members_and_shows_controls_by_role(tenancy):
    admin_page = tenancy.client(tenancy.admin).get(MEMBERS).content.decode()
    for user in (tenancy.owner, tenancy.admin, tenancy.member):
        assert user.email in admin_page
    assert tenancy.outsider.email not in admin_page
    assert "Send invitation" in admin_page
    assert f"{MEMBERS}{membership(tenancy, tenancy.member).pk}/remove/" in admin_page

    member_page = tenancy.client(tenancy.member).get(MEMBERS).content.decode()
    assert "Send invitation" not in member_page
    assert "/remove/" not in member_page and "/role/" not in member_page
    assert "/o/org-a/leave/" in member_page


def test_admin_invites_by_email(tenancy, django_capture_on_commit_callbacks, mailoutbox):
    client = tenancy.client(tenancy.admin)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(MEMBERS, {"email": "New@Example.com", "role": "admin"}, follow=True)
    assert b"Sent an invitation to" in response.content
    invitation = Invitation.objects.get(organization=tenancy.org)
    assert (invitation.email, invitation.role) == ("new@example.com", Role.ADMIN)
    assert invitation.invited_by == tenancy.admin
    assert b"new@example.com" in response.content  # listed under open invitations
    assert len(mailoutbox) == 1 and mailoutbox[0].to == ["new@example.com"]
    assert "/invite/" in mailoutbox[0].body


def test_member_cannot_invite(tenancy, django_capture_on_commit_callbacks, mailoutbox):
    client = tenancy.client(tenancy.member)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(MEMBERS, {"email": "friend@example.com", "role": "member"})
    assert response.status_code == 403
    assert b"Only an admin or owner can invite members." in response.content
    assert not Invitation.objects.exists() and not mailoutbox


def test_invite_bad_input_is_a_form_error(tenancy):
    client = tenancy.client(tenancy.owner)
    response = client.post(MEMBERS, {"email": "not-an-email", "role": "member"})
    assert response.status_code == 400 and b"Enter a valid email address." in response.content
    response = client.post(MEMBERS, {"email": "x@example.com", "role": "emperor"})
    assert response.status_code == 400 and b"Select a valid choice." in response.content
    response = client.post(MEMBERS, {"email": tenancy.member.email, "role": "member"})
    assert response.status_code == 400
    assert b"is already a member of Org A" in response.content
    assert not Invitation.objects.exists()


def test_admin_cannot_invite_an_owner(tenancy):
    # Not offered to admins (issue 12), so a forged post is a form error.
    response = tenancy.client(tenancy.admin).post(MEMBERS, {"email": "x@e.com", "role": "owner"})
    assert response.status_code == 400 and b"Select a valid choice." in response.content
    assert not Invitation.objects.exists()


def role_url(tenancy, user) -> str:
    return f"{MEMBERS}{membership(tenancy, user).pk}/role/"


def remove_url(tenancy, user) -> str:
    return f"{MEMBERS}{membership(tenancy, user).pk}/remove/"


def test_owner_changes_a_role(tenancy):
    response = tenancy.client(tenancy.owner).post(
        role_url(tenancy, tenancy.member), {"role": "admin"}, follow=True
    )
    assert b"member@a.example is now Admin." in response.content
    assert membership(tenancy, tenancy.member).role == Role.ADMIN


def test_role_changes_follow_the_owner_rules(tenancy):
    admin = tenancy.client(tenancy.admin)
    assert admin.post(role_url(tenancy, tenancy.member), {"role": "owner"}).status_code == 403
    assert admin.post(role_url(tenancy, tenancy.owner), {"role": "member"}).status_code == 403
    member = tenancy.client(tenancy.member)
    assert member.post(role_url(tenancy, tenancy.admin), {"role": "member"}).status_code == 403
    # The only owner cannot step down: a message, not an error page.
    owner = tenancy.client(tenancy.owner)
    response = owner.post(role_url(tenancy, tenancy.owner), {"role": "admin"}, follow=True)
    assert b"make someone else owner first" in response.content
    response = owner.post(role_url(tenancy, tenancy.member), {"role": "king"}, follow=True)
    assert b"Pick one of the listed roles" in response.content
    roles = {m.user: m.role for m in Membership.objects.filter(organization=tenancy.org)}
    assert roles == {tenancy.owner: "owner", tenancy.admin: "admin", tenancy.member: "member"}


def test_admin_removes_a_member_but_a_member_cannot(tenancy):
    member = tenancy.client(tenancy.member)
    assert member.post(remove_url(tenancy, tenancy.admin)).status_code == 403
    assert Membership.objects.filter(user=tenancy.admin, organization=tenancy.org).exists()

    admin = tenancy.client(tenancy.admin)
    assert admin.post(remove_url(tenancy, tenancy.owner)).status_code == 403
    response = admin.post(remove_url(tenancy, tenancy.member), follow=True)
    assert b"Removed member@a.example from Org A." in response.content
    assert not Membership.objects.filter(user=tenancy.member, organization=tenancy.org).exists()
    # The removed member is now an outsider.
    assert member.get(MEMBERS).status_code == 404


def test_member_leaves(tenancy):
    client = tenancy.client(tenancy.member)
    client.get("/o/org-a/")  # remembered as the last-used organization
    response = client.post("/o/org-a/leave/", follow=True)
    assert b"You left Org A." in response.content
    assert not Membership.objects.filter(user=tenancy.member).exists()
    assert response.redirect_chain[-1][0] == "/orgs/new/"  # no organization left


def test_only_owner_cannot_leave(tenancy):
    response = tenancy.client(tenancy.owner).post("/o/org-a/leave/", follow=True)
    assert b"make someone else owner first" in response.content
    assert membership(tenancy, tenancy.owner).role == Role.OWNER
