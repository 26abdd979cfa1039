"""accounts.limits through the services: every path refuses out-of-range values before a
secret or a row exists, and the refusal names the field."""

import sys
from datetime import timedelta

import pytest
from django.test import RequestFactory
from django.utils import timezone
from django.views.debug import ExceptionReporter

from accounts import keys, limits
from accounts.errors import FieldError
from accounts.models import APIKey
from accounts.money import MAX_PICO
from accounts.services import api_key_create, api_key_update, organization_set_limits


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"budget_pico": MAX_PICO + 1}, "budget_usd"),
        ({"budget_pico": 9_223_373 * 10**12}, "budget_usd"),
        ({"budget_pico": -1}, "budget_usd"),
        ({"rpm_limit": -1}, "rpm_limit"),
        ({"rpm_limit": 2**31}, "rpm_limit"),
        ({"tpm_limit": 2**63}, "tpm_limit"),
        ({"budget_period": "year"}, "budget_period"),
        ({"allowed_ips": ["10.0.0.0/8", "10.0.0.0/99"]}, "allowed_ips"),
        ({"allowed_ips": ["fe80::/129"]}, "allowed_ips"),
        ({"expires_at": timezone.now() - timedelta(seconds=1)}, "expires_at"),
        ({"name": "  "}, "name"),
        ({"name": "x" * 101}, "name"),
    ],
)
def test_api_key_create_refuses_before_anything_exists(tenancy, monkeypatch, fields, field):
    minted = []
    monkeypatch.setattr(keys, "new_secret", lambda: minted.append(1) or "jinf_" + "x" * 43)
    before = APIKey.objects.count()
    with pytest.raises(FieldError) as caught:
        api_key_create(organization=tenancy.org, **{"name": "k", **fields})
    assert caught.value.field == field and caught.value.message
    assert APIKey.objects.count() == before
    assert not minted  # no secret was even generated


def test_the_bounds_themselves_are_accepted(tenancy):
    key = api_key_create(
        organization=tenancy.org,
        name="edge",
        budget_pico=MAX_PICO,
        rpm_limit=limits.MAX_COUNT,
        tpm_limit=0,
        allowed_ips=["0.0.0.0/0", "::/0", "192.0.2.1"],
    ).key
    key.refresh_from_db()
    assert (key.budget_pico, key.rpm_limit, key.tpm_limit) == (MAX_PICO, 2_147_483_647, 0)
    assert key.allowed_ips == ["0.0.0.0/0", "::/0", "192.0.2.1/32"]


def test_cidrs_are_normalized_and_deduplicated():
    assert limits.cidrs(["10.1.2.3/8", " 10.0.0.0/8 ", "2001:0DB8:0:0::/32", ""]) == [
        "10.0.0.0/8",
        "2001:db8::/32",
    ]


def test_api_key_update_refuses_and_keeps_the_key(tenancy):
    key = tenancy.owner_key.key
    with pytest.raises(FieldError, match="at most"):
        api_key_update(key=key, budget_pico=MAX_PICO + 1)
    key.refresh_from_db()
    assert key.budget_pico is None


def test_organization_caps_are_bounded(tenancy):
    with pytest.raises(FieldError) as caught:
        organization_set_limits(organization=tenancy.org, monthly_cap_pico=MAX_PICO + 1)
    assert caught.value.field == "monthly_cap_usd"
    with pytest.raises(FieldError):
        organization_set_limits(organization=tenancy.org, rpm_limit=-5)
    tenancy.org.refresh_from_db()
    assert (tenancy.org.rpm_limit, tenancy.org.monthly_cap_pico) == (None, None)


def error_page_of_a_failed_mint(organization) -> str:
    """Django's error page for api_key_create failing at the insert. Caught here, so the
    traceback starts in this frame, which holds no secret (the test's does)."""
    try:
        api_key_create(organization=organization, name="k")
    except RuntimeError:
        return ExceptionReporter(RequestFactory().get("/"), *sys.exc_info()).get_traceback_html()
    raise AssertionError("the insert did not fail")


@pytest.mark.parametrize("debug", [True, False])
def test_an_error_page_never_shows_a_new_secret(tenancy, monkeypatch, settings, debug):
    """If the insert fails after the secret exists, no error page or report shows it."""
    settings.DEBUG = debug
    secret = "jinf_" + "S" * 43
    monkeypatch.setattr(keys, "new_secret", lambda: secret)

    def refuse(**_kwargs):
        raise RuntimeError("the database refused")

    monkeypatch.setattr(APIKey.objects, "create", refuse)
    html = error_page_of_a_failed_mint(tenancy.org)
    assert "the database refused" in html and "api_key_create" in html
    assert "rotated_from" in html  # the failing frame's other variables are shown
    assert secret not in html
