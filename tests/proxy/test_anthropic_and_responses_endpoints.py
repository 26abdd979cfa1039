"""/v1/messages and /v1/responses at the edges: auth, errors in each shape's envelope,
count_tokens, and what /v1/responses refuses."""

import anthropic
import httpx
import openai
import pytest

from tests.proxy.conftest import make_tenant, records

ASK = [{"role": "user", "content": "hi there"}]


def claude(server, key: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=server.url, api_key=key, max_retries=0)


def test_messages_accepts_x_api_key_and_bearer(asgi_server, matrix_routes, tenant):
    for headers in ({"x-api-key": tenant.secret}, {"Authorization": f"Bearer {tenant.secret}"}):
        r = httpx.post(
            asgi_server.url + "/v1/messages",
            headers={**headers, "anthropic-version": "2023-06-01"},
            json={"model": "via-anthropic", "max_tokens": 50, "messages": ASK},
        )
        assert r.status_code == 200, r.text
        assert r.json()["type"] == "message" and r.json()["model"] == "via-anthropic"
    assert len(records(2)) == 2


def test_messages_errors_are_anthropic_shaped(asgi_server, matrix_routes, transactional_db):
    with pytest.raises(anthropic.AuthenticationError) as info:
        claude(asgi_server, "jinf_wrong").messages.create(
            model="via-anthropic", max_tokens=5, messages=ASK
        )
    assert info.value.body["type"] == "error"
    assert info.value.body["error"]["type"] == "authentication_error"
    ok = make_tenant("ok")
    with pytest.raises(anthropic.NotFoundError) as info:
        claude(asgi_server, ok.secret).messages.create(model="nope", max_tokens=5, messages=ASK)
    assert info.value.body["error"]["type"] == "not_found_error"
    r = httpx.post(
        asgi_server.url + "/v1/messages",
        headers={"x-api-key": ok.secret, "anthropic-version": "2023-06-01"},
        json={"model": "via-anthropic", "max_tokens": "5", "messages": ASK},
    )
    assert r.status_code == 400 and r.json()["type"] == "error"
    assert r.json()["error"]["type"] == "invalid_request_error"
    assert "max_tokens" in r.json()["error"]["message"]
    limited = make_tenant("rpm", rpm_limit=1)
    claude(asgi_server, limited.secret).messages.create(
        model="via-openai", max_tokens=5, messages=ASK
    )
    with pytest.raises(anthropic.RateLimitError) as info:
        claude(asgi_server, limited.secret).messages.create(
            model="via-openai", max_tokens=5, messages=ASK
        )
    assert info.value.body["error"]["type"] == "rate_limit_error"


def test_count_tokens_is_answered_by_the_anthropic_deployment(asgi_server, matrix_routes, tenant):
    counted = claude(asgi_server, tenant.secret).messages.count_tokens(
        model="via-anthropic", messages=ASK
    )
    direct = anthropic.Anthropic(base_url=matrix_routes.url, api_key="x", max_retries=0)
    assert (
        counted.input_tokens
        == direct.messages.count_tokens(model="demo", messages=ASK).input_tokens
        > 0
    )
    with pytest.raises(anthropic.BadRequestError, match="no Anthropic deployment"):
        claude(asgi_server, tenant.secret).messages.count_tokens(model="via-openai", messages=ASK)


def test_responses_refuses_previous_response_id_clearly(asgi_server, matrix_routes, tenant):
    """Translated, stored state cannot be honoured (natively, OpenAI-kind upstreams get it)."""
    client = openai.OpenAI(base_url=asgi_server.url + "/v1", api_key=tenant.secret, max_retries=0)
    with pytest.raises(openai.BadRequestError) as info:
        client.responses.create(model="via-anthropic", input="hi", previous_response_id="resp_1")
    assert info.value.param == "previous_response_id"
    assert "send the whole conversation" in info.value.message
    with pytest.raises(openai.BadRequestError) as info:
        client.responses.create(model="via-anthropic", input=5)
    assert info.value.param == "input"


def test_responses_echo_the_request_settings(asgi_server, matrix_routes, tenant):
    client = openai.OpenAI(base_url=asgi_server.url + "/v1", api_key=tenant.secret, max_retries=0)
    response = client.responses.create(
        model="via-anthropic", input="hi", instructions="Be brief.", temperature=0.5
    )
    assert response.instructions == "Be brief." and response.temperature == 0.5
    sent = matrix_routes.state.requests[-1]["body"]
    assert sent["system"] == [{"type": "text", "text": "Be brief."}]
    assert sent["temperature"] == 0.5
