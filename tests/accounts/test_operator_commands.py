"""The operator commands of the contract, run as an operator runs them: real processes."""

import io
import re
from datetime import UTC, datetime, time, timedelta

import openai
import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from accounts.models import APIKey, Membership, Organization, Role
from billing.models import CreditLedgerEntry
from billing.services import ledger_balance
from tests.processes import manage


def test_mintkey_prints_a_working_key(asgi_server):
    done = manage(
        "mintkey", "--org", "acme", "--email", "ops@acme.example", "--name", "ci",
        "--credits", "2.50", "--rpm", "60", "--tpm", "1000", "--models", "gpt-4o, claude",
        "--budget-usd", "1.25",
    )  # fmt: skip
    secret = done.stdout.strip().splitlines()[-1]
    assert secret.startswith("jinf_") and len(secret) >= 43

    key = APIKey.objects.get(prefix=secret[:13])
    org = Organization.objects.get(slug="acme")
    assert key.organization == org and key.name == "ci"
    assert (key.rpm_limit, key.tpm_limit, key.budget_pico) == (60, 1000, 1_250_000_000_000)
    assert key.allowed_models == ["claude", "gpt-4o"]
    assert Membership.objects.get(organization=org).role == Role.OWNER
    assert org.credit_balance_pico == 2_500_000_000_000 == ledger_balance(organization=org)

    client = openai.OpenAI(base_url=asgi_server.url + "/v1", api_key=secret, max_retries=0)
    assert client.models.list().object == "list"
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(
            base_url=asgi_server.url + "/v1", api_key=secret[:-2], max_retries=0
        ).models.list()


def test_mintkey_reuses_an_existing_organization(transactional_db):
    first = manage("mintkey", "--org", "acme").stdout.strip().splitlines()[-1]
    second = manage("mintkey", "--org", "acme", "--credits", "1").stdout.strip().splitlines()[-1]
    assert first != second
    assert Organization.objects.filter(slug="acme").count() == 1
    assert APIKey.objects.filter(organization__slug="acme").count() == 2


def test_mintkey_rejects_bad_amounts_without_minting(transactional_db):
    done = manage("mintkey", "--org", "acme", "--credits", "lots", check=False)
    assert done.returncode != 0 and "not an amount" in done.stderr
    assert "Traceback" not in done.stderr
    assert not APIKey.objects.exists() and not Organization.objects.exists()


def test_grantcredits_adds_and_removes_through_the_ledger(transactional_db):
    manage("mintkey", "--org", "acme")
    assert (
        manage("grantcredits", "--org", "acme", "--usd", "10", "--reason", "promo").stdout.strip()
        == "$10.00"
    )
    out = manage("grantcredits", "--org", "acme", "--usd", "-2.5", "--reason", "fix").stdout
    assert out.strip() == "$7.50"
    org = Organization.objects.get(slug="acme")
    assert org.credit_balance_pico == ledger_balance(organization=org) == 7_500_000_000_000
    assert list(CreditLedgerEntry.objects.values_list("reason", flat=True).order_by("id")) == [
        "promo", "fix"
    ]  # fmt: skip


def test_grantcredits_unknown_org_is_a_clear_error(transactional_db):
    done = manage("grantcredits", "--org", "nope", "--usd", "1", "--reason", "x", check=False)
    assert done.returncode != 0 and "No organization" in done.stderr


def test_revokekey_by_visible_prefix(asgi_server):
    secret = manage("mintkey", "--org", "acme").stdout.strip().splitlines()[-1]
    key = APIKey.objects.get()
    manage("revokekey", key.prefix + "…")
    key.refresh_from_db()
    assert key.status == "revoked"

    from proxy import auth

    auth._cache.clear()  # a fresh process would not have it cached
    with pytest.raises(openai.AuthenticationError, match="revoked"):
        openai.OpenAI(base_url=asgi_server.url + "/v1", api_key=secret, max_retries=0).models.list()


def test_revokekey_needs_an_unambiguous_prefix(transactional_db):
    manage("mintkey", "--org", "acme")
    manage("mintkey", "--org", "acme")
    done = manage("revokekey", "jinf_", check=False)
    assert done.returncode != 0 and "More than one key" in done.stderr
    assert all(k.is_active() for k in APIKey.objects.all())


def last_line(done) -> str:
    return done.stdout.strip().splitlines()[-1]


def test_mintkey_sets_budget_period_ips_and_expiry(transactional_db):
    day = (timezone.now() + timedelta(days=30)).date()
    done = manage(
        "mintkey", "--org", "acme", "--budget-usd", "5", "--budget-period", "week",
        "--ips", "10.1.2.3/8, 2001:DB8::1,192.0.2.7", "--expires", day.isoformat(),
    )  # fmt: skip
    key = APIKey.objects.get(prefix=last_line(done)[:13])
    assert (key.budget_pico, key.budget_period) == (5 * 10**12, "week")
    assert key.allowed_ips == ["10.0.0.0/8", "2001:db8::1/128", "192.0.2.7/32"]
    assert key.expires_at == datetime.combine(day, time.min, tzinfo=UTC)  # 00:00 UTC that day


def test_setlimits_sets_clears_and_prints_the_caps(transactional_db):
    manage("mintkey", "--org", "acme")
    out = manage("setlimits", "--org", "acme", "--rpm", "120", "--monthly-cap-usd", "50.5").stdout
    assert out.strip().splitlines() == ["rpm: 120", "tpm: none", "monthly_cap_usd: 50.50"]
    org = Organization.objects.get(slug="acme")
    assert (org.rpm_limit, org.tpm_limit, org.monthly_cap_pico) == (120, None, 50_500_000_000_000)

    out = manage("setlimits", "--org", "acme", "--rpm", "none", "--tpm", "9000").stdout
    assert out.strip().splitlines() == ["rpm: none", "tpm: 9000", "monthly_cap_usd: 50.50"]
    org.refresh_from_db()
    assert (org.rpm_limit, org.tpm_limit, org.monthly_cap_pico) == (None, 9000, 50_500_000_000_000)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--budget-usd", "9223373"], "--budget-usd: '9223373' is more than the USD 1,000,000"),
        (["--budget-usd", "-1"], "--budget-usd: The budget cannot be negative."),
        (["--rpm", "-1"], "--rpm: The RPM limit cannot be negative."),
        (["--tpm", "2147483648"], "--tpm: The TPM limit can be at most 2,147,483,647."),
        (["--rpm", "ten"], "invalid int value"),
        (["--ips", "10.0.0.0/8,nonsense"], "--ips: 'nonsense' is not an IP network"),
        (["--ips", "2001:db8::/200"], "--ips: '2001:db8::/200' is not an IP network"),
        (["--expires", "2001-01-01"], "--expires: The expiry must lie in the future."),
        (["--expires", "next week"], "--expires: 'next week' is not a date"),
        (["--budget-period", "year"], "invalid choice: 'year'"),
        (["--credits", "-3"], "--credits: give a positive amount"),
        (["--credits", "1e9"], "--credits: '1e9' is more than"),
    ],
)
def test_mintkey_refuses_out_of_range_values_before_creating_anything(db, args, message):
    with pytest.raises(CommandError, match=re.escape(message)):
        call_command("mintkey", "--org", "acme", *args, stdout=io.StringIO())
    assert not Organization.objects.exists() and not APIKey.objects.exists()


def test_mintkey_expiring_today_is_refused(db):
    """00:00 UTC of today has passed: the key would be born expired."""
    today = timezone.now().date().isoformat()
    with pytest.raises(CommandError, match="must lie in the future"):
        call_command("mintkey", "--org", "acme", "--expires", today, stdout=io.StringIO())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--rpm", "-1"], "--rpm: The RPM limit cannot be negative."),
        (["--rpm", "lots"], "--rpm: 'lots' is not a whole number or 'none'."),
        (["--tpm", "99999999999"], "--tpm: The TPM limit can be at most 2,147,483,647."),
        (["--monthly-cap-usd", "2000000"], "--monthly-cap-usd: '2000000' is more than"),
        (["--monthly-cap-usd", "-1"], "--monthly-cap-usd: The monthly cap cannot be negative."),
        (["--monthly-cap-usd", "much"], "--monthly-cap-usd: 'much' is not an amount of USD"),
    ],
)
def test_setlimits_refuses_out_of_range_values(tenancy, args, message):
    with pytest.raises(CommandError, match=re.escape(message)):
        call_command("setlimits", "--org", "org-a", "--rpm", "5", *args, stdout=io.StringIO())
    tenancy.org.refresh_from_db()
    assert (tenancy.org.rpm_limit, tenancy.org.tpm_limit, tenancy.org.monthly_cap_pico) == (
        None,
        None,
        None,
    )


def test_setlimits_unknown_org_is_a_clear_error(db):
    with pytest.raises(CommandError, match="No organization has the slug 'nope'"):
        call_command("setlimits", "--org", "nope", "--rpm", "1", stdout=io.StringIO())


def test_setlimits_with_no_change_prints_what_is_in_force(tenancy):
    Organization.objects.filter(pk=tenancy.org.pk).update(tpm_limit=42)
    out = io.StringIO()
    call_command("setlimits", "--org", "org-a", stdout=out)
    assert out.getvalue().splitlines() == ["rpm: none", "tpm: 42", "monthly_cap_usd: none"]
