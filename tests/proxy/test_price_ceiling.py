"""A key's price ceiling (USD per million tokens): set through the API, the portal form and
mintkey; /v1 refuses a model priced above it with 403 before anything goes upstream, and
the automatic model skips such a candidate (tests/proxy/test_auto_rules.py)."""

import openai
import pytest
from django.core.management import call_command

from accounts.models import APIKey
from proxy import auth
from tests.proxy.conftest import make_tenant, records

ASK = [{"role": "user", "content": "hi"}]


def test_a_model_above_the_ceiling_is_refused_403_and_one_below_is_served(
    asgi_server, routes, transactional_db
):
    # The routes fixture's models cost $1.50/M in and $2.25/M out.
    strict = make_tenant("strict", max_price_micros=2_000_000)
    with pytest.raises(openai.PermissionDeniedError) as refused:
        strict.client(asgi_server).chat.completions.create(model="demo", messages=ASK)
    err = refused.value.body
    assert err["code"] == "model_over_price_ceiling" and err["param"] == "model"
    assert "costs $2.25 per million output tokens, above" in err["message"]
    assert "price ceiling of $2 per million tokens" in err["message"]
    assert routes.state.requests == []
    loose = make_tenant("loose", max_price_micros=2_250_000)  # equal is within
    assert loose.client(asgi_server).chat.completions.create(model="demo", messages=ASK).model
    assert [r.http_status for r in records(2)] == [403, 200]


def test_the_api_sets_shows_and_clears_the_ceiling(tenancy):
    from tests.api.conftest import session

    key = tenancy.member_key.key
    client = session(tenancy.member)
    url = f"/api/orgs/org-a/keys/{key.pk}/"
    response = client.patch(url, {"max_price_usd": "0.15"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["max_price_usd"] == "0.15"
    key.refresh_from_db()
    assert key.max_price_micros == 150_000
    bad = client.patch(url, {"max_price_usd": "0.0000001"}, format="json")
    assert bad.status_code == 400 and "max_price_usd" in str(bad.json()), bad.json()
    assert client.patch(url, {"max_price_usd": None}, format="json").json()["max_price_usd"] is None
    key.refresh_from_db()
    assert key.max_price_micros is None


def test_mintkey_takes_the_ceiling_and_the_key_cache_carries_it(transactional_db, capsys):
    call_command("mintkey", "--org", "ceil", "--max-price-usd", "3.5")
    key = APIKey.objects.get(organization__slug="ceil")
    assert key.max_price_micros == 3_500_000
    info = auth._load(key.digest)
    assert info is not None and info.max_price_micros == 3_500_000


def test_the_portal_s_key_form_sets_and_shows_the_ceiling(tenancy):
    key = tenancy.member_key.key
    page = f"/o/org-a/keys/{key.pk}/"
    client = tenancy.client(tenancy.member)
    response = client.post(page, {"name": key.name, "max_price_usd": "2.5"})
    assert response.status_code in (200, 302), response.content[:500]
    assert APIKey.objects.get(pk=key.pk).max_price_micros == 2_500_000
    form = client.get(page).content.decode()
    assert 'name="max_price_usd"' in form and 'value="2.5' in form
    client.post(page, {"name": key.name, "max_price_usd": "0.0000001"})
    assert APIKey.objects.get(pk=key.pk).max_price_micros == 2_500_000  # refused, unchanged
