"""Key authentication on /v1: OpenAI envelope, typed SDK errors, revocation within 2 s."""

import time
from datetime import timedelta

import httpx
import openai
import pytest
from django.utils import timezone

from accounts.models import APIKey
from accounts.services import api_key_create, api_key_revoke, api_key_rotate
from proxy import auth


@pytest.fixture(autouse=True)
def _fresh_key_cache():
    auth._cache.clear()


def sdk(server, secret: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.url + "/v1", api_key=secret, max_retries=0)


def test_models_lists_with_a_valid_key(asgi_server, tenancy):
    r = httpx.get(
        asgi_server.url + "/v1/models",
        headers={"Authorization": f"Bearer {tenancy.owner_key.secret}"},
    )
    assert r.status_code == 200
    assert r.json()["object"] == "list"
    assert r.headers["x-request-id"].startswith("req_")


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Basic abc"},
        {"Authorization": "Bearer jinf_nope"},
    ],
)
def test_missing_or_bad_keys_get_401_in_openai_envelope(asgi_server, db, headers):
    r = httpx.get(asgi_server.url + "/v1/models", headers=headers)
    assert r.status_code == 401
    error = r.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "authentication_error" and error["message"]
    assert r.headers["x-request-id"]


def test_revocation_reaches_the_proxy_within_two_seconds(asgi_server, tenancy):
    client = sdk(asgi_server, tenancy.owner_key.secret)
    client.models.list()  # cached now
    api_key_revoke(key=tenancy.owner_key.key)
    revoked_at = time.monotonic()
    while True:
        try:
            client.models.list()
        except openai.AuthenticationError:
            break
        assert time.monotonic() - revoked_at < 2.5, "a revoked key kept working past 2 s"
        time.sleep(0.1)


def test_expired_key_is_refused(asgi_server, tenancy):
    key = tenancy.owner_key.key
    APIKey.objects.filter(pk=key.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(openai.AuthenticationError, match="expired"):
        sdk(asgi_server, tenancy.owner_key.secret).models.list()


def test_rotated_key_works_through_its_grace_period(asgi_server, tenancy):
    new = api_key_rotate(key=tenancy.owner_key.key, grace=timedelta(hours=1))
    sdk(asgi_server, tenancy.owner_key.secret).models.list()
    sdk(asgi_server, new.secret).models.list()


def test_management_key_cannot_call_v1(asgi_server, tenancy):
    mgmt = api_key_create(organization=tenancy.org, name="ops", is_management=True)
    with pytest.raises(openai.AuthenticationError, match="management key"):
        sdk(asgi_server, mgmt.secret).models.list()


def test_last_used_is_recorded(asgi_server, tenancy):
    assert tenancy.owner_key.key.last_used_at is None
    sdk(asgi_server, tenancy.owner_key.secret).models.list()
    deadline = time.monotonic() + 3  # written in the background (proxy.last_used)
    while tenancy.owner_key.key.last_used_at is None and time.monotonic() < deadline:
        time.sleep(0.05)
        tenancy.owner_key.key.refresh_from_db()
    assert tenancy.owner_key.key.last_used_at is not None


def test_the_key_cache_stays_bounded_under_made_up_keys(asgi_server, tenancy, monkeypatch):
    monkeypatch.setattr(auth._cache, "max_entries", 5)
    for i in range(12):
        r = httpx.get(
            asgi_server.url + "/v1/models", headers={"Authorization": f"Bearer jinf_fake{i}"}
        )
        assert r.status_code == 401
    assert len(auth._cache) <= 5
    assert sdk(asgi_server, tenancy.owner_key.secret).models.list().object == "list"
