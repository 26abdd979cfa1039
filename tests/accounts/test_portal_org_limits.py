"""The settings page: the organization's caps over all keys, and its alert settings."""

import re

import pytest

from accounts.models import Organization

SETTINGS = "/o/org-a/settings/"


def org(tenancy) -> Organization:
    return Organization.objects.get(pk=tenancy.org.pk)


@pytest.mark.parametrize("who", ["owner", "admin"])
def test_admins_and_owners_set_the_caps(tenancy, who):
    client = tenancy.client(getattr(tenancy, who))
    response = client.post(
        f"{SETTINGS}limits/",
        {"rpm_limit": "600", "tpm_limit": "90000", "monthly_cap_usd": "250.5"},
        follow=True,
    )
    assert b"Saved the organization&#x27;s limits." in response.content
    o = org(tenancy)
    assert (o.rpm_limit, o.tpm_limit, o.monthly_cap_pico) == (600, 90000, 250_500_000_000_000)
    page = client.get(SETTINGS).content.decode()
    assert 'value="600"' in page and 'value="250.50"' in page

    client.post(f"{SETTINGS}limits/", {"rpm_limit": "", "tpm_limit": "", "monthly_cap_usd": ""})
    o = org(tenancy)
    assert (o.rpm_limit, o.tpm_limit, o.monthly_cap_pico) == (None, None, None)


def test_a_member_sees_the_caps_but_cannot_set_them(tenancy):
    Organization.objects.filter(pk=tenancy.org.pk).update(rpm_limit=5, monthly_cap_pico=10**13)
    client = tenancy.client(tenancy.member)
    page = client.get(SETTINGS).content.decode()
    assert "/settings/limits/" not in page and "/settings/alerts/" not in page
    assert 'id="org-limits"' in page and "$10.00" in page and "no cap" in page

    response = client.post(f"{SETTINGS}limits/", {"rpm_limit": "1"})
    assert response.status_code == 403
    assert b"Only an admin or owner can change the organization" in response.content
    response = client.post(f"{SETTINGS}alerts/", {"low_balance_threshold_usd": "1"})
    assert response.status_code == 403
    o = org(tenancy)
    assert (o.rpm_limit, o.low_balance_threshold_pico) == (5, None)


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"rpm_limit": "-1"}, "rpm_limit"),
        ({"tpm_limit": "2147483648"}, "tpm_limit"),
        ({"monthly_cap_usd": "1000001"}, "monthly_cap_usd"),
        ({"monthly_cap_usd": "-5"}, "monthly_cap_usd"),
        ({"monthly_cap_usd": "plenty"}, "monthly_cap_usd"),
    ],
)
def test_out_of_range_caps_are_form_errors(tenancy, data, field):
    response = tenancy.client(tenancy.owner).post(f"{SETTINGS}limits/", data)
    assert response.status_code == 400
    assert field in response.context["limits_form"].errors
    o = org(tenancy)
    assert (o.rpm_limit, o.tpm_limit, o.monthly_cap_pico) == (None, None, None)


def test_admin_sets_the_alerts(tenancy):
    client = tenancy.client(tenancy.admin)
    response = client.post(
        f"{SETTINGS}alerts/",
        {"low_balance_threshold_usd": "2.5", "pause_keys_on_spike": "on"},
        follow=True,
    )
    assert b"Saved the alert settings." in response.content
    o = org(tenancy)
    assert (o.low_balance_threshold_pico, o.pause_keys_on_spike) == (2_500_000_000_000, True)
    page = client.get(SETTINGS).content.decode()
    assert re.search(r'<input type="checkbox" name="pause_keys_on_spike"[^>]* checked', page)

    client.post(f"{SETTINGS}alerts/", {"low_balance_threshold_usd": ""})
    o = org(tenancy)
    assert (o.low_balance_threshold_pico, o.pause_keys_on_spike) == (None, False)


def test_an_out_of_range_threshold_is_a_form_error(tenancy):
    response = tenancy.client(tenancy.owner).post(
        f"{SETTINGS}alerts/", {"low_balance_threshold_usd": "99999999"}
    )
    assert response.status_code == 400
    assert "low_balance_threshold_usd" in response.context["alerts_form"].errors
    assert org(tenancy).low_balance_threshold_pico is None


def test_the_caps_of_another_organization_are_out_of_reach(tenancy):
    client = tenancy.client(tenancy.owner)
    assert client.post("/o/org-b/settings/limits/", {"rpm_limit": "1"}).status_code == 404
    assert Organization.objects.get(pk=tenancy.other_org.pk).rpm_limit is None
