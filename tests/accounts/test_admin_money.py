"""Issue 12: the Django admin shows money in dollars, never pico-USD, and edits it so."""

import pytest
from django.apps import apps
from django.contrib import admin
from django.utils import timezone

from accounts.admin_money import DollarsField, MoneyMixin, price_text
from accounts.models import APIKey, Organization, User
from accounts.money import format_usd, usd_text
from billing.models import CreditLedgerEntry, UsageRecord
from billing.services import credits_grant
from proxy.models import ModelRoute
from tests.billing.portal.data import make_invoice, record_usage


@pytest.fixture
def staff_client(client, db):
    client.force_login(User.objects.create_superuser(email="root@example.com", password="x"))
    return client


def money_models():
    for app in ("accounts", "billing", "proxy"):
        for model in apps.get_app_config(app).get_models():
            names = {f.name for f in model._meta.concrete_fields}
            if any(n.endswith("_pico") or n.endswith("_price") for n in names):
                yield model


@pytest.mark.parametrize("model", list(money_models()), ids=str)
def test_every_admin_with_money_shows_dollars(model):
    assert isinstance(admin.site._registry[model], MoneyMixin), model


def test_lists_and_pages_show_dollars(staff_client, tenancy):
    org = tenancy.org
    credits_grant(organization=org, amount_pico=12_500_000_000_000, reason="welcome")
    record_usage(org, at=timezone.now(), count=1, cost_pico=49_881_000_000)
    invoice = make_invoice(org, timezone.now().strftime("%Y-%m"))
    org.refresh_from_db()
    balance = format_usd(org.credit_balance_pico)
    route = ModelRoute.objects.create(name="m-1", input_price=150_000, output_price=600_000)
    pages = {
        "/admin/accounts/organization/": balance,
        f"/admin/accounts/organization/{org.pk}/change/": balance,
        "/admin/billing/creditledgerentry/": "$12.50",
        f"/admin/billing/creditledgerentry/{CreditLedgerEntry.objects.first().pk}/change/": "$12.50",
        "/admin/billing/usagerecord/": "$0.049881",
        f"/admin/billing/usagerecord/{UsageRecord.objects.first().pk}/change/": "$0.049881",
        "/admin/billing/invoice/": "$",
        f"/admin/billing/invoice/{invoice.pk}/change/": "$",
        "/admin/proxy/modelroute/": "$0.15 / 1M tokens",
    }
    for url, dollars in pages.items():
        response = staff_client.get(url)
        assert response.status_code == 200, url
        html = response.content.decode()
        assert dollars in html, url
        for raw in (12_500_000_000_000, 49_881_000_000, org.credit_balance_pico):
            assert f">{raw}<" not in html and f'value="{raw}"' not in html, url
    html = staff_client.get("/admin/accounts/organization/").content.decode()
    assert f'title="{usd_text(org.credit_balance_pico)} USD"' in html
    assert "(USD)" in html  # the column says its unit
    html = staff_client.get(f"/admin/proxy/modelroute/{route.pk}/change/").content.decode()
    assert "USD per million tokens" in html and 'value="0.6"' in html


def test_a_keys_budget_is_edited_in_dollars(staff_client, tenancy):
    key = tenancy.owner_key.key
    APIKey.objects.filter(pk=key.pk).update(budget_pico=2_500_000_000_000)
    url = f"/admin/accounts/apikey/{key.pk}/change/"
    html = staff_client.get(url).content.decode()
    assert 'name="budget_pico"' in html and 'value="2.50"' in html
    assert "Budget (USD)" in html
    form = {
        "name": key.name, "budget_pico": "7.25", "budget_period": "total",
        "allowed_models": "[]", "allowed_ips": "[]", "expires_at_0": "", "expires_at_1": "",
        "revoked_at_0": "", "revoked_at_1": "", "paused_at_0": "", "paused_at_1": "",
    }  # fmt: skip
    response = staff_client.post(url, form)
    assert response.status_code == 302, response.content.decode()[:3000]
    key.refresh_from_db()
    assert key.budget_pico == 7_250_000_000_000
    response = staff_client.post(url, {**form, "budget_pico": "lots"})
    assert response.status_code == 200 and "Enter an amount of dollars" in response.content.decode()


def test_dollars_field_and_price_text():
    field = DollarsField(required=False)
    assert field.prepare_value(49_881_000_000) == "0.049881"
    assert field.clean("$1,234.50") == 1_234_500_000_000_000
    assert field.clean("") is None
    price = DollarsField(per_million_tokens=True)
    assert price.prepare_value(150_000) == "0.15" and price.clean("2.5") == 2_500_000
    assert price_text(150_000) == "$0.15 / 1M tokens"
    assert price_text(1) == "$0.000001 / 1M tokens"
    assert Organization  # the model the admin lists first
