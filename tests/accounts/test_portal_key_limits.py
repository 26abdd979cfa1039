"""The keys page and a key's own page: budget period, IPs, editing limits, pause and resume."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from accounts import keys
from accounts.models import APIKey

KEYS = "/o/org-a/keys/"
SECRET = re.compile(r"jinf_[A-Za-z0-9_-]{40,}")


def edit_url(key: APIKey) -> str:
    return f"{KEYS}{key.pk}/"


def fresh(key: APIKey) -> APIKey:
    return APIKey.objects.get(pk=key.pk)


LIMITS = {
    "name": "edited",
    "allowed_models": "m-two, m-one",
    "rpm_limit": "12",
    "tpm_limit": "3400",
    "budget_usd": "4.5",
    "budget_period": "month",
    "allowed_ips": "192.0.2.10/24, 2001:DB8::/32",
}


def test_create_takes_a_budget_period_and_ips(tenancy):
    response = tenancy.client(tenancy.member).post(
        KEYS, {"name": "ci", "budget_usd": "1", "budget_period": "day", "allowed_ips": "::1"}
    )
    assert response.status_code == 200
    key = APIKey.objects.get(digest=keys.digest(SECRET.search(response.content.decode())[0]))
    assert (key.budget_period, key.allowed_ips) == ("day", ["::1/128"])
    assert b"budget per day" in response.content and b"::1/128" in response.content


@pytest.mark.parametrize(
    ("data", "field", "error"),
    [
        ({"budget_usd": "9223373"}, "budget_usd", "less than or equal to 1000000"),
        ({"budget_usd": "1000000.5"}, "budget_usd", "less than or equal to 1000000"),
        ({"allowed_ips": "10.0.0.0/8, nonsense"}, "allowed_ips", "is not an IP network"),
        ({"allowed_ips": "10.0.0.0/40"}, "allowed_ips", "is not an IP network"),
        ({"budget_period": "year"}, "budget_period", "Select a valid choice."),
        ({"rpm_limit": "2147483648"}, "rpm_limit", "less than or equal to 2147483647"),
    ],
)
def test_create_refuses_out_of_range_values_beside_their_field(tenancy, data, field, error):
    before = APIKey.objects.count()
    response = tenancy.client(tenancy.owner).post(KEYS, {"name": "ci", **data})
    assert response.status_code == 400
    assert error in str(response.context["form"].errors[field])
    assert APIKey.objects.count() == before
    assert not SECRET.search(response.content.decode())


def test_list_shows_period_ips_and_an_edit_link_to_those_who_may_edit(tenancy):
    key = tenancy.member_key.key
    key.budget_pico, key.budget_period, key.allowed_ips = 10**12, "week", ["203.0.113.0/24"]
    key.save()
    page = tenancy.client(tenancy.member).get(KEYS).content.decode()
    assert "$1.00 budget per week" in page and "from 203.0.113.0/24" in page
    assert "from any address" in page  # the owner's key
    assert edit_url(key) in page and edit_url(tenancy.owner_key.key) not in page
    assert (
        edit_url(tenancy.owner_key.key) in tenancy.client(tenancy.admin).get(KEYS).content.decode()
    )


def test_owner_of_a_key_edits_its_limits(tenancy):
    key = tenancy.member_key.key
    client = tenancy.client(tenancy.member)
    page = client.get(edit_url(key))
    assert page.status_code == 200 and b"Save limits" in page.content
    day = (timezone.now() + timedelta(days=5)).date()

    response = client.post(edit_url(key), {**LIMITS, "expires_on": day.isoformat()}, follow=True)

    assert b"Saved the limits of edited" in response.content
    key = fresh(key)
    assert (key.name, key.allowed_models) == ("edited", ["m-one", "m-two"])
    assert (key.rpm_limit, key.tpm_limit, key.budget_pico) == (12, 3400, 4_500_000_000_000)
    assert key.budget_period == "month"
    assert key.allowed_ips == ["192.0.2.0/24", "2001:db8::/32"]
    assert key.expires_at == datetime.combine(day + timedelta(days=1), datetime.min.time(), UTC)

    # The page shows what is stored, and empty fields clear the limits.
    page = client.get(edit_url(key)).content.decode()
    assert 'value="4.50"' in page
    assert day.isoformat() in page
    client.post(edit_url(key), {"name": "edited", "budget_period": "total"})
    key = fresh(key)
    assert (key.rpm_limit, key.tpm_limit, key.budget_pico, key.expires_at) == (None,) * 4
    assert (key.allowed_models, key.allowed_ips, key.budget_period) == ([], [], "total")


def test_edit_refuses_bad_values_and_changes_nothing(tenancy):
    key = tenancy.member_key.key
    before = list(APIKey.objects.filter(pk=key.pk).values())
    client = tenancy.client(tenancy.member)
    for data, field in [
        ({"budget_usd": "-1"}, "budget_usd"),
        ({"budget_usd": "2000000"}, "budget_usd"),
        ({"allowed_ips": "300.1.1.1"}, "allowed_ips"),
        ({"expires_on": "2001-01-01"}, "expires_on"),
        ({"name": ""}, "name"),
    ]:
        response = client.post(edit_url(key), {**LIMITS, **data})
        assert response.status_code == 400, data
        assert field in response.context["form"].errors, data
    assert list(APIKey.objects.filter(pk=key.pk).values()) == before


def test_a_member_cannot_edit_someone_elses_key(tenancy):
    owners = tenancy.owner_key.key
    client = tenancy.client(tenancy.member)
    page = client.get(edit_url(owners))
    assert page.status_code == 200 and b"Save limits" not in page.content
    response = client.post(edit_url(owners), LIMITS)
    assert response.status_code == 403
    assert fresh(owners).name == "owner's key"


def test_another_organizations_key_page_is_404(tenancy):
    other = tenancy.other_key.key
    client = tenancy.client(tenancy.owner)
    assert client.get(edit_url(other)).status_code == 404
    assert client.post(edit_url(other), LIMITS).status_code == 404
    assert fresh(other).name == "b's key"


def pause(key: APIKey) -> APIKey:
    key.paused_at = timezone.now()
    key.save(update_fields=["paused_at"])
    return key


def test_a_paused_key_shows_paused_and_an_admin_resumes_it(tenancy):
    key = pause(tenancy.member_key.key)
    resume = f"{KEYS}{key.pk}/resume/"

    member = tenancy.client(tenancy.member)
    page = member.get(KEYS).content.decode()
    assert 'status-paused">paused<' in page and "after a spend spike" in page
    assert resume not in page
    assert member.post(resume).status_code == 403
    assert fresh(key).paused_at is not None

    admin = tenancy.client(tenancy.admin)
    assert resume in admin.get(KEYS).content.decode()
    response = admin.post(resume, follow=True)
    assert b"Resumed member&#x27;s key" in response.content
    key = fresh(key)
    assert key.paused_at is None and key.status == "active"


def test_resume_needs_post_and_stays_in_the_organization(tenancy):
    key = pause(tenancy.member_key.key)
    admin = tenancy.client(tenancy.admin)
    assert admin.get(f"{KEYS}{key.pk}/resume/").status_code == 405
    other = pause(tenancy.other_key.key)
    assert admin.post(f"{KEYS}{other.pk}/resume/").status_code == 404
    assert fresh(key).paused_at is not None and fresh(other).paused_at is not None
