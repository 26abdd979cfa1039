"""Issue 12: "last used" counts only calls that passed every gate (proxy.last_used)."""

import time

import httpx
import pytest

from accounts.models import APIKey
from proxy import auth, last_used


@pytest.fixture(autouse=True)
def _fresh():
    auth._cache.clear()
    last_used.forget()


def _last_used(key_id: int):
    return APIKey.objects.get(pk=key_id).last_used_at


def _wait_for_last_used(key_id: int, timeout: float = 3.0):
    deadline = time.monotonic() + timeout
    while (value := _last_used(key_id)) is None and time.monotonic() < deadline:
        time.sleep(0.05)
    return value


def test_rejected_calls_do_not_update_last_used(asgi_server, tenancy):
    key = tenancy.owner_key.key
    APIKey.objects.filter(pk=key.pk).update(allowed_models=["not-this-one"])
    headers = {"Authorization": f"Bearer {tenancy.owner_key.secret}"}
    refused = [
        # A model the key may not use, and one that does not exist.
        httpx.post(
            asgi_server.url + "/v1/chat/completions",
            headers=headers,
            json={"model": m, "messages": [{"role": "user", "content": "hi"}]},
        )
        for m in ("some-other-model", "gpt-4o-mini")
    ]
    assert [r.status_code for r in refused] != [200, 200]
    assert all(r.status_code in (403, 404) for r in refused), [r.text for r in refused]
    # An address outside the key's allowlist.
    APIKey.objects.filter(pk=key.pk).update(allowed_models=[], allowed_ips=["203.0.113.0/24"])
    auth._cache.clear()
    r = httpx.get(asgi_server.url + "/v1/models", headers=headers)
    assert r.status_code == 403
    time.sleep(0.5)  # a background write, if any, has landed by now
    assert _last_used(key.pk) is None


def test_an_admitted_call_updates_last_used(asgi_server, tenancy):
    key = tenancy.owner_key.key
    r = httpx.get(
        asgi_server.url + "/v1/models",
        headers={"Authorization": f"Bearer {tenancy.owner_key.secret}"},
    )
    assert r.status_code == 200
    assert _wait_for_last_used(key.pk) is not None


def test_loading_a_key_does_not_write_last_used(tenancy):
    auth._load(__import__("accounts.keys", fromlist=["digest"]).digest(tenancy.owner_key.secret))
    assert _last_used(tenancy.owner_key.key.pk) is None
