"""Across shapes, what a translation cannot carry gets a 400 naming it, or, on a route
with `drop_unsupported: true`, is dropped and named in `x-jinf-dropped`; advice the
target has no field for is dropped and named there too. Nothing goes silently."""

import httpx
import pytest

from proxy import table
from proxy.routes_file import apply
from tests.proxy.conftest import PRICE

WEB_SEARCH = {"type": "web_search_20250305", "name": "web_search", "max_uses": 2}
BODY = {
    "max_tokens": 50,
    "messages": [{"role": "user", "content": "What happened today?"}],
    "tools": [WEB_SEARCH],
    "thinking": {"type": "enabled", "budget_tokens": 1024},
}


@pytest.fixture
def dropping_routes(sandbox):
    provider = {"name": "oai", "kind": "openai", "base_url": sandbox.url + "/v1", "api_key": "k"}
    apply(
        {
            "providers": [provider],
            "models": [
                {"name": "strict", "price": PRICE,
                 "deployments": [{"provider": "oai", "model": "demo"}]},
                {"name": "lenient", "price": PRICE, "drop_unsupported": True,
                 "deployments": [{"provider": "oai", "model": "demo"}]},
            ],
        }
    )  # fmt: skip
    table.invalidate()
    return sandbox


def messages(server, key: str, body: dict) -> httpx.Response:
    return httpx.post(
        server.url + "/v1/messages",
        headers={"x-api-key": key, "anthropic-version": "2023-06-01"},
        json=body,
        timeout=10,
    )


def test_a_hosted_tool_without_an_equivalent_is_a_named_400(asgi_server, dropping_routes, tenant):
    r = messages(asgi_server, tenant.secret, {**BODY, "model": "strict"})
    assert r.status_code == 400, r.text
    assert r.json()["type"] == "error"
    message = r.json()["error"]["message"]
    assert "tools.0" in message or "tools[0]" in message
    assert "drop_unsupported" in message
    assert dropping_routes.state.requests == []


def test_drop_unsupported_drops_it_and_says_so(asgi_server, dropping_routes, tenant):
    r = messages(asgi_server, tenant.secret, {**BODY, "model": "lenient"})
    assert r.status_code == 200, r.text
    dropped = r.headers["x-jinf-dropped"].split(", ")
    assert any(name.startswith("tools") for name in dropped) and "thinking" in dropped
    sent = dropping_routes.state.last("/v1/chat/completions")["body"]
    assert "tools" not in sent and "thinking" not in sent


def test_advice_is_dropped_and_named_even_on_a_strict_route(asgi_server, dropping_routes, tenant):
    body = {k: v for k, v in BODY.items() if k != "tools"}
    r = messages(asgi_server, tenant.secret, {**body, "model": "strict"})
    assert r.status_code == 200, r.text
    assert r.headers["x-jinf-dropped"] == "thinking"
