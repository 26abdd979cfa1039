"""A key's allowed models are a choice among the served models (accounts.model_catalog,
filled by proxy at start): a typo is refused in the portal and the API, naming what is
served; with nothing served, any name is taken as before."""

import re

import pytest

from accounts import model_catalog
from accounts.models import APIKey
from proxy.apps import served_model_names
from proxy.models import Deployment, ModelRoute, Provider
from tests.api.conftest import session

KEYS = "/o/org-a/keys/"


def serve(*names: str, active: bool = True) -> None:
    provider, _ = Provider.objects.get_or_create(
        name="up", defaults={"kind": "openai", "base_url": "http://127.0.0.1:9/v1"}
    )
    for name in names:
        route = ModelRoute.objects.create(
            name=name, input_price=1, output_price=2, is_active=active
        )
        Deployment.objects.create(model_route=route, provider=provider, upstream_model=name)


@pytest.fixture
def served(tenancy):
    serve("alpha-mini", "beta-large")
    serve("retired", active=False)
    return tenancy


def test_proxy_registers_the_active_routes_as_the_catalog(served):
    assert model_catalog._provider is served_model_names
    assert model_catalog.served_models() == ["alpha-mini", "beta-large"]


def test_the_create_form_offers_the_served_models_as_checkboxes(served):
    page = served.client(served.member).get(KEYS).content.decode()
    for name in ("alpha-mini", "beta-large"):
        assert f'type="checkbox" name="allowed_models" value="{name}"' in page
    assert 'value="retired"' not in page


def test_the_portal_refuses_a_typo_naming_it_and_the_served_models(served):
    before = APIKey.objects.count()
    response = served.client(served.member).post(
        KEYS, {"name": "ci", "allowed_models": ["alpha-mini", "alpha-mnii"]}
    )
    assert response.status_code == 400
    error = str(response.context["form"].errors["allowed_models"])
    assert "alpha-mnii is not served here" in error
    assert "alpha-mini, beta-large" in error
    assert APIKey.objects.count() == before


def test_the_portal_takes_checked_served_models(served):
    response = served.client(served.member).post(
        KEYS, {"name": "ci", "allowed_models": ["beta-large", "alpha-mini"]}
    )
    assert response.status_code == 200
    key = APIKey.objects.get(name="ci")
    assert key.allowed_models == ["alpha-mini", "beta-large"]


def test_the_edit_form_keeps_a_model_the_key_already_names(served):
    key = served.member_key.key
    key.allowed_models = ["retired"]
    key.save()
    client = served.client(served.member)
    page = client.get(f"{KEYS}{key.pk}/").content.decode()
    assert re.search(
        r'<input type="checkbox" name="allowed_models" value="retired"[^>]* checked', page
    )
    assert not re.search(r'value="alpha-mini"[^>]* checked', page)
    response = client.post(
        f"{KEYS}{key.pk}/", {"name": "renamed", "allowed_models": ["retired", "alpha-mini"]}
    )
    assert response.status_code in (200, 302), response.content[:2000]
    key.refresh_from_db()
    assert (key.name, key.allowed_models) == ("renamed", ["alpha-mini", "retired"])
    refused = client.post(f"{KEYS}{key.pk}/", {"name": "again", "allowed_models": ["gamma"]})
    assert refused.status_code == 400
    assert "gamma is not served here" in str(refused.context["form"].errors["allowed_models"])


def test_the_api_refuses_a_typo_on_patch_and_create(served):
    key = served.member_key.key
    client = session(served.member)
    response = client.patch(
        f"/api/orgs/org-a/keys/{key.pk}/", {"allowed_models": ["beta-lrage"]}, format="json"
    )
    assert response.status_code == 400
    message = str(response.json())
    assert "beta-lrage is not served here" in message and "alpha-mini, beta-large" in message
    key.refresh_from_db()
    assert key.allowed_models == []
    created = client.post(
        "/api/orgs/org-a/keys/", {"name": "x", "allowed_models": ["nope"]}, format="json"
    )
    assert created.status_code == 400 and "nope is not served here" in str(created.json())
    ok = client.patch(
        f"/api/orgs/org-a/keys/{key.pk}/", {"allowed_models": ["beta-large"]}, format="json"
    )
    assert ok.status_code == 200 and ok.json()["allowed_models"] == ["beta-large"]


def test_with_nothing_served_any_name_is_taken(tenancy):
    assert model_catalog.served_models() == []
    response = tenancy.client(tenancy.member).post(
        KEYS, {"name": "ci", "allowed_models": "anything, at-all"}
    )
    assert response.status_code == 200
    assert APIKey.objects.get(name="ci").allowed_models == ["anything", "at-all"]
    page = tenancy.client(tenancy.member).get(KEYS).content.decode()
    assert 'type="checkbox" name="allowed_models"' not in page
