"""/v1/messages/count_tokens goes through the same admission and relay as every call:
the key's limits, fallback to the next Anthropic-kind deployment, errors in Anthropic's
envelope, and a named 400 where no deployment can count."""

import socket

import anthropic
import httpx
import pytest

from proxy import table
from proxy.routes_file import apply
from tests.proxy.conftest import PRICE, make_tenant, records

ASK = [{"role": "user", "content": "count these words please"}]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def counting_routes(sandbox):
    dead = f"http://127.0.0.1:{closed_port()}"
    apply(
        {
            "providers": [
                {"name": "dead", "kind": "anthropic", "base_url": dead, "api_key": "sk-d"},
                {"name": "live", "kind": "anthropic", "base_url": sandbox.url, "api_key": "sk-l"},
                {"name": "oai", "kind": "openai", "base_url": sandbox.url + "/v1", "api_key": "k"},
            ],
            "models": [
                {"name": "fallback", "price": PRICE, "deployments": [
                    {"provider": "dead", "model": "demo", "priority": 0},
                    {"provider": "live", "model": "demo", "priority": 1}]},
                {"name": "dead-only", "price": PRICE,
                 "deployments": [{"provider": "dead", "model": "demo"}]},
                {"name": "openai-only", "price": PRICE,
                 "deployments": [{"provider": "oai", "model": "demo"}]},
            ],
        }
    )  # fmt: skip
    table.invalidate()
    return sandbox


def count(server, key: str, model: str) -> httpx.Response:
    return httpx.post(
        server.url + "/v1/messages/count_tokens",
        headers={"x-api-key": key, "anthropic-version": "2023-06-01"},
        json={"model": model, "messages": ASK},
        timeout=10,
    )


def test_count_tokens_falls_back_to_the_next_deployment(asgi_server, counting_routes, tenant):
    r = count(asgi_server, tenant.secret, "fallback")
    assert r.status_code == 200, r.text
    direct = anthropic.Anthropic(base_url=counting_routes.url, api_key="x", max_retries=0)
    assert (
        r.json()["input_tokens"]
        == direct.messages.count_tokens(model="demo", messages=ASK).input_tokens
    )
    (record,) = records(1)
    assert (record.endpoint, record.status, record.provider) == ("count_tokens", "ok", "live")
    assert record.attempts == 2 and record.cost_pico == 0


def test_count_tokens_unreachable_is_a_502_in_anthropics_envelope(
    asgi_server, counting_routes, tenant
):
    r = count(asgi_server, tenant.secret, "dead-only")
    assert r.status_code == 502
    assert r.json()["type"] == "error" and r.json()["error"]["type"] == "api_error"


def test_count_tokens_honours_the_keys_rate_limit(asgi_server, counting_routes, transactional_db):
    limited = make_tenant("limited", rpm_limit=1)
    assert count(asgi_server, limited.secret, "fallback").status_code == 200
    r = count(asgi_server, limited.secret, "fallback")
    assert r.status_code == 429 and r.headers["retry-after"]
    assert r.json()["error"]["type"] == "rate_limit_error"


def test_count_tokens_without_an_anthropic_deployment_is_a_named_400(
    asgi_server, counting_routes, tenant
):
    r = count(asgi_server, tenant.secret, "openai-only")
    assert r.status_code == 400
    assert r.json()["type"] == "error" and "no Anthropic deployment" in r.json()["error"]["message"]


def test_embeddings_on_a_model_without_an_openai_kind_deployment_is_a_4xx(
    asgi_server, matrix_routes, tenant
):
    for path, body in (
        ("/v1/embeddings", {"model": "via-anthropic", "input": "hi"}),
        ("/v1/completions", {"model": "via-anthropic", "prompt": "hi"}),
    ):
        r = httpx.post(
            asgi_server.url + path,
            headers={"Authorization": f"Bearer {tenant.secret}"},
            json=body,
            timeout=10,
        )
        assert r.status_code == 400, r.text
        error = r.json()["error"]
        assert error["code"] == "unsupported_endpoint" and error["param"] == "model"
        assert "no OpenAI-compatible deployment" in error["message"]
    assert matrix_routes.state.requests == []
