"""/v1/responses passes through to OpenAI-kind upstreams that have it, and falls back to
chat completions (remembered per provider) for those that don't."""

import openai
import pytest

from proxy import table
from proxy.routes_file import apply
from sandbox.server import SandboxServer
from tests.proxy.conftest import PRICE, make_tenant, records


@pytest.fixture
def sandbox():
    """An OpenAI-compatible upstream without the Responses API (its path answers 404)."""
    server = SandboxServer(responses=False).start()
    try:
        yield server
    finally:
        server.stop()


def paths(sandbox) -> list[str]:
    return [r["path"] for r in sandbox.state.requests]


def test_upstream_without_responses_is_asked_once_then_served_over_chat(
    asgi_server, sandbox, tenant
):
    apply({
        "providers": [{"name": "plain", "kind": "openai", "base_url": sandbox.url + "/v1", "api_key": "k"}],
        "models": [{"name": "m", "price": PRICE, "deployments": [{"provider": "plain", "model": "demo"}]}],
    })  # fmt: skip
    table.invalidate()
    client = openai.OpenAI(base_url=asgi_server.url + "/v1", api_key=tenant.secret, max_retries=0)
    for _ in range(2):
        assert client.responses.create(model="m", input="hi").output_text.startswith("Hello from")
    assert paths(sandbox) == ["/v1/responses", "/v1/chat/completions", "/v1/chat/completions"]
    rows = records(2)
    assert all(r.status == "ok" and r.attempts == 1 for r in rows)


def test_upstream_with_responses_gets_them_passed_through(asgi_server, sandbox, transactional_db):
    # The upstream here is another gateway tenant: it has /v1/responses (served over the
    # sandbox's chat completions), so the outer call passes through untranslated.
    inner = make_tenant("inner")
    outer = make_tenant("outer")
    apply({
        "providers": [
            {"name": "sandbox", "kind": "openai", "base_url": sandbox.url + "/v1", "api_key": "k"},
            {"name": "gateway", "kind": "openai", "base_url": asgi_server.url + "/v1", "api_key": inner.secret},
        ],
        "models": [
            {"name": "inner-m", "price": PRICE, "deployments": [{"provider": "sandbox", "model": "demo"}]},
            {"name": "outer-m", "price": PRICE, "deployments": [{"provider": "gateway", "model": "inner-m"}]},
        ],
    })  # fmt: skip
    table.invalidate()
    client = openai.OpenAI(base_url=asgi_server.url + "/v1", api_key=outer.secret, max_retries=0)
    tools = [{"type": "function", "name": "look", "parameters": {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]}}]  # fmt: skip

    whole = client.responses.create(model="outer-m", input="hi")
    assert whole.model == "outer-m" and whole.output_text.startswith("Hello from")
    assert (whole.usage.model_extra or {})["cost"] > 0
    with client.responses.stream(model="outer-m", input="find it", tools=tools) as stream:
        final = stream.get_final_response()
    call = next(item for item in final.output if item.type == "function_call")
    assert final.model == "outer-m" and call.name == "look" and '"q"' in call.arguments

    rows = records(4)  # two outer calls, each passed to the inner gateway's own call
    outer_rows = [r for r in rows if r.organization_id == outer.org.pk]
    inner_rows = [r for r in rows if r.organization_id == inner.org.pk]
    assert len(outer_rows) == len(inner_rows) == 2
    for o, i in zip(outer_rows, inner_rows, strict=True):
        assert (o.input_tokens, o.output_tokens) == (i.input_tokens, i.output_tokens)
        assert o.cost_pico == i.cost_pico > 0 and o.endpoint == "responses"
        # Passed through: the inner gateway was called on /v1/responses, not on chat.
        assert i.endpoint == "responses"
    # The inner gateway learnt once that the sandbox has no /responses.
    assert paths(sandbox) == ["/v1/responses", "/v1/chat/completions", "/v1/chat/completions"]
