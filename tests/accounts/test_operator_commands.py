"""The operator commands of the contract, run as an operator runs them: real processes."""

import openai
import pytest

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
