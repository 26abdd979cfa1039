"""The keys page: the secret shown once, who may revoke and rotate, and bad input."""

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from accounts import keys
from accounts.models import APIKey

SECRET = re.compile(r"jinf_[A-Za-z0-9_-]{40,}")
KEYS = "/o/org-a/keys/"


def create_key(client, **data):
    return client.post(KEYS, {"name": "ci", **data})


def only_secret_in(response) -> str:
    found = set(SECRET.findall(response.content.decode()))
    assert len(found) == 1, found
    return found.pop()


def test_create_shows_the_secret_once_and_stores_only_its_digest(tenancy):
    client = tenancy.client(tenancy.owner)
    response = create_key(
        client,
        allowed_models="gpt-4o-mini, claude-3-5-haiku ,",
        rpm_limit="60",
        tpm_limit="10000",
        budget_usd="2.50",
    )
    assert response.status_code == 200
    secret = only_secret_in(response)
    assert b"won't see it again" in response.content
    assert b'data-copy="#new-secret"' in response.content
    assert "no-store" in response["Cache-Control"]

    key = APIKey.objects.get(digest=keys.digest(secret))
    assert key.created_by == tenancy.owner and key.organization == tenancy.org
    assert key.allowed_models == ["claude-3-5-haiku", "gpt-4o-mini"]
    assert (key.rpm_limit, key.tpm_limit, key.budget_pico) == (60, 10000, 2_500_000_000_000)
    assert not key.is_management

    # Nowhere else: not in the list page, the session, a cookie, or any table.
    listing = client.get(KEYS)
    assert secret not in listing.content.decode()
    assert f"{key.prefix}…" in listing.content.decode()
    assert secret not in str(dict(client.session))
    assert secret not in str(client.cookies)
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f'SELECT * FROM "{table}"')
            assert secret not in str(cursor.fetchall()), table


def test_expiry_date_makes_the_key_valid_through_that_day(tenancy):
    client = tenancy.client(tenancy.member)
    day = (timezone.now() + timedelta(days=3)).date()
    response = create_key(client, expires_on=day.isoformat())
    key = APIKey.objects.get(digest=keys.digest(only_secret_in(response)))
    assert key.expires_at.date() == day + timedelta(days=1)
    assert key.created_by == tenancy.member


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"name": ""}, "This field is required."),
        ({"rpm_limit": "sixty"}, "Enter a whole number."),
        ({"tpm_limit": "-5"}, "greater than or equal to 0"),
        ({"rpm_limit": "99999999999999"}, "less than or equal to"),
        ({"budget_usd": "lots"}, "Enter a number."),
        ({"budget_usd": "-1"}, "greater than or equal to 0"),
        ({"expires_on": "2001-01-01"}, "Pick today or a later date."),
        ({"expires_on": "tomorrow"}, "Enter a valid date."),
    ],
)
def test_bad_input_is_a_form_error(tenancy, data, error):
    before = APIKey.objects.count()
    response = create_key(tenancy.client(tenancy.owner), **data)
    assert response.status_code == 400
    assert error in response.content.decode()
    assert APIKey.objects.count() == before
    assert not SECRET.search(response.content.decode())


def test_management_keys_are_for_admins(tenancy):
    admin = tenancy.client(tenancy.admin)
    assert b'type="checkbox" name="is_management"' in admin.get(KEYS).content
    response = create_key(admin, is_management="on")
    assert APIKey.objects.get(digest=keys.digest(only_secret_in(response))).is_management

    member = tenancy.client(tenancy.member)
    assert b'type="checkbox" name="is_management"' not in member.get(KEYS).content
    before = APIKey.objects.count()
    response = create_key(member, is_management="on")
    assert response.status_code == 403
    assert b"Only an admin or owner can create management keys." in response.content
    assert APIKey.objects.count() == before


def revoke_url(key: APIKey) -> str:
    return f"{KEYS}{key.pk}/revoke/"


def rotate_url(key: APIKey) -> str:
    return f"{KEYS}{key.pk}/rotate/"


def test_member_cannot_revoke_or_rotate_someone_elses_key(tenancy):
    owners = tenancy.owner_key.key
    client = tenancy.client(tenancy.member)
    page = client.get(KEYS).content.decode()
    assert revoke_url(owners) not in page and rotate_url(owners) not in page
    assert revoke_url(tenancy.member_key.key) in page

    response = client.post(revoke_url(owners))
    assert response.status_code == 403
    assert b"Members can only change keys they created" in response.content
    assert client.post(rotate_url(owners), {"grace_hours": "0"}).status_code == 403
    owners.refresh_from_db()
    assert owners.status == "active"
    assert not APIKey.objects.filter(rotated_from=owners).exists()


def test_member_revokes_own_key(tenancy):
    key = tenancy.member_key.key
    response = tenancy.client(tenancy.member).post(revoke_url(key), follow=True)
    assert b"Revoked member&#x27;s key" in response.content
    key.refresh_from_db()
    assert key.status == "revoked"


def test_admin_revokes_any_key(tenancy):
    client = tenancy.client(tenancy.admin)
    page = client.get(KEYS).content.decode()
    assert revoke_url(tenancy.owner_key.key) in page
    assert client.post(revoke_url(tenancy.owner_key.key)).status_code == 302
    tenancy.owner_key.key.refresh_from_db()
    assert tenancy.owner_key.key.status == "revoked"


def test_revoke_needs_post(tenancy):
    response = tenancy.client(tenancy.owner).get(revoke_url(tenancy.owner_key.key))
    assert response.status_code == 405
    tenancy.owner_key.key.refresh_from_db()
    assert tenancy.owner_key.key.status == "active"


def test_rotate_shows_a_new_secret_and_stops_the_old_key(tenancy):
    old = tenancy.member_key.key
    response = tenancy.client(tenancy.member).post(rotate_url(old), {"grace_hours": "0"})
    assert response.status_code == 200
    secret = only_secret_in(response)
    assert secret != tenancy.member_key.secret
    new = APIKey.objects.get(digest=keys.digest(secret))
    assert new.rotated_from == old and new.name == old.name
    old.refresh_from_db()
    assert old.status == "revoked"
    assert b"has stopped working" in response.content


def test_rotate_with_grace_keeps_the_old_key_working_for_a_while(tenancy):
    old = tenancy.owner_key.key
    response = tenancy.client(tenancy.admin).post(rotate_url(old), {"grace_hours": "24"})
    only_secret_in(response)
    old.refresh_from_db()
    assert old.status == "revoking" and old.is_active()
    assert old.is_active(timezone.now() + timedelta(hours=23))
    assert not old.is_active(timezone.now() + timedelta(hours=25))
    assert b"keeps working until" in response.content


@pytest.mark.parametrize("grace", ["721", "-1", "soon", ""])
def test_rotate_rejects_a_bad_grace_period(tenancy, grace):
    old = tenancy.owner_key.key
    response = tenancy.client(tenancy.owner).post(
        rotate_url(old), {"grace_hours": grace}, follow=True
    )
    assert response.status_code == 200
    assert b"Give a grace period between 0 and 720 hours" in response.content
    old.refresh_from_db()
    assert old.status == "active"
    assert not APIKey.objects.filter(rotated_from=old).exists()


def test_revoked_key_cannot_be_rotated(tenancy):
    client = tenancy.client(tenancy.owner)
    key = tenancy.owner_key.key
    client.post(revoke_url(key))
    response = client.post(rotate_url(key), {"grace_hours": "0"}, follow=True)
    assert b"Only an active key can be rotated" in response.content
    assert not APIKey.objects.filter(rotated_from=key).exists()


def test_list_shows_keys_of_this_organization_only(tenancy):
    page = tenancy.client(tenancy.member).get(KEYS).content.decode()
    assert tenancy.owner_key.key.prefix in page and tenancy.member_key.key.prefix in page
    assert tenancy.other_key.key.prefix not in page
    assert "owner@a.example" in page  # the creator's email


def test_list_page_queries_do_not_grow_with_keys(tenancy, django_assert_max_num_queries):
    from accounts.services import api_key_create

    for n in range(20):
        api_key_create(organization=tenancy.org, name=f"k{n}", created_by=tenancy.member)
    client = tenancy.client(tenancy.member)
    with django_assert_max_num_queries(10):
        client.get(KEYS)
