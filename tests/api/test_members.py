from accounts.models import Invitation, Membership, Role
from tests.api.conftest import bearer, session


def membership(tenancy, user) -> Membership:
    return Membership.objects.get(organization=tenancy.org, user=user)


def test_list(tenancy):
    response = session(tenancy.member).get("/api/orgs/org-a/members/")
    assert response.status_code == 200
    rows = [(m["email"], m["role"]) for m in response.json()]
    assert rows == [
        ("owner@a.example", "owner"),
        ("admin@a.example", "admin"),
        ("member@a.example", "member"),
    ]
    assert response.json()[0]["id"] == membership(tenancy, tenancy.owner).pk


def test_admin_invites_and_the_token_is_not_returned(tenancy):
    response = session(tenancy.admin).post(
        "/api/orgs/org-a/invitations/", {"email": "New@A.example", "role": "member"}, format="json"
    )
    assert response.status_code == 201
    body = response.json()
    assert body["email"] == "new@a.example"
    assert body["invited_by"] == "admin@a.example"
    assert set(body) == {"id", "email", "role", "invited_by", "created_at", "expires_at"}
    invitation = Invitation.objects.get(pk=body["id"], organization=tenancy.org)
    assert invitation.token_digest not in response.content.decode()


def test_member_cannot_invite(tenancy):
    response = session(tenancy.member).post(
        "/api/orgs/org-a/invitations/", {"email": "friend@a.example"}, format="json"
    )
    assert response.status_code == 403
    assert response.json()["detail"] == "Only an admin or owner can invite members."
    assert not Invitation.objects.exists()


def test_inviting_a_member_again_is_a_conflict(tenancy):
    response = session(tenancy.owner).post(
        "/api/orgs/org-a/invitations/", {"email": "member@a.example"}, format="json"
    )
    assert response.status_code == 409
    assert response.json()["code"] == "conflict"


def test_management_key_invites_as_admin_but_not_owners(tenancy, mgmt_a):
    client = bearer(mgmt_a.secret)
    url = "/api/orgs/org-a/invitations/"
    response = client.post(url, {"email": "bot@a.example", "role": "admin"}, format="json")
    assert response.status_code == 201
    assert response.json()["invited_by"] is None

    response = client.post(url, {"email": "boss@a.example", "role": "owner"}, format="json")
    assert response.status_code == 403
    assert not Invitation.objects.filter(email="boss@a.example").exists()


def test_admin_changes_a_role(tenancy):
    target = membership(tenancy, tenancy.member)
    response = session(tenancy.admin).patch(
        f"/api/orgs/org-a/members/{target.pk}/", {"role": "admin"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["role"] == "admin"
    target.refresh_from_db()
    assert target.role == Role.ADMIN


def test_member_cannot_change_roles(tenancy):
    target = membership(tenancy, tenancy.member)
    response = session(tenancy.member).patch(
        f"/api/orgs/org-a/members/{target.pk}/", {"role": "owner"}, format="json"
    )
    assert response.status_code == 403
    target.refresh_from_db()
    assert target.role == Role.MEMBER


def test_admin_cannot_demote_the_owner(tenancy):
    target = membership(tenancy, tenancy.owner)
    response = session(tenancy.admin).patch(
        f"/api/orgs/org-a/members/{target.pk}/", {"role": "member"}, format="json"
    )
    assert response.status_code == 403
    assert response.json()["detail"] == "Only an owner can make or unmake owners."


def test_admin_removes_a_member(tenancy):
    target = membership(tenancy, tenancy.member)
    response = session(tenancy.admin).delete(f"/api/orgs/org-a/members/{target.pk}/")
    assert response.status_code == 204
    assert not Membership.objects.filter(pk=target.pk).exists()


def test_member_may_leave_but_not_remove_others(tenancy):
    own = membership(tenancy, tenancy.member)
    admin = membership(tenancy, tenancy.admin)
    client = session(tenancy.member)

    assert client.delete(f"/api/orgs/org-a/members/{admin.pk}/").status_code == 403
    assert Membership.objects.filter(pk=admin.pk).exists()

    assert client.delete(f"/api/orgs/org-a/members/{own.pk}/").status_code == 204
    assert not Membership.objects.filter(pk=own.pk).exists()


def test_last_owner_cannot_leave(tenancy):
    own = membership(tenancy, tenancy.owner)
    response = session(tenancy.owner).delete(f"/api/orgs/org-a/members/{own.pk}/")
    assert response.status_code == 400
    assert "needs an owner" in response.json()["detail"]


def test_removing_a_member_revokes_their_keys_by_default(tenancy):
    target = membership(tenancy, tenancy.member)
    theirs = tenancy.member_key.key
    response = session(tenancy.admin).delete(f"/api/orgs/org-a/members/{target.pk}/")
    assert response.status_code == 204
    theirs.refresh_from_db()
    assert theirs.status == "revoked"
    tenancy.owner_key.key.refresh_from_db()
    assert tenancy.owner_key.key.status == "active"  # only the removed member's keys


def test_removing_a_member_can_reassign_their_keys_to_the_remover(tenancy):
    target = membership(tenancy, tenancy.member)
    theirs = tenancy.member_key.key
    response = session(tenancy.admin).delete(
        f"/api/orgs/org-a/members/{target.pk}/", {"keys": "reassign"}, format="json"
    )
    assert response.status_code == 204
    theirs.refresh_from_db()
    assert theirs.status == "active" and theirs.created_by == tenancy.admin


def test_the_keys_choice_may_come_in_the_query(tenancy):
    target = membership(tenancy, tenancy.member)
    response = session(tenancy.owner).delete(f"/api/orgs/org-a/members/{target.pk}/?keys=reassign")
    assert response.status_code == 204
    tenancy.member_key.key.refresh_from_db()
    assert tenancy.member_key.key.created_by == tenancy.owner


def test_a_management_key_reassigns_to_no_one(tenancy, mgmt_a):
    target = membership(tenancy, tenancy.member)
    response = bearer(mgmt_a.secret).delete(f"/api/orgs/org-a/members/{target.pk}/?keys=reassign")
    assert response.status_code == 204
    key = tenancy.member_key.key
    key.refresh_from_db()
    assert key.status == "active" and key.created_by is None


def test_leaving_revokes_your_keys_even_when_asking_to_reassign(tenancy):
    own = membership(tenancy, tenancy.member)
    response = session(tenancy.member).delete(
        f"/api/orgs/org-a/members/{own.pk}/", {"keys": "reassign"}, format="json"
    )
    assert response.status_code == 204
    key = tenancy.member_key.key
    key.refresh_from_db()
    assert key.status == "revoked" and key.created_by == tenancy.member
