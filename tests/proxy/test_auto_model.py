"""The automatic model end to end: the openai and anthropic SDKs against the real gateway,
each request shape going to the candidate the rules (proxy.auto) name, streams and tool
calls included; the answer's model, x-jinf-routed-model, the record and the price are the
chosen candidate's."""

from decimal import Decimal

import anthropic
import httpx
import openai
import pytest

from proxy import table
from proxy.routes_file import apply
from tests.proxy.conftest import records

SMALL = {"input": 0.1, "output": 0.4}
FRONTIER = {"input": 3, "output": 15}
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "read_file",
            "description": "Read a file of the repository",
            "parameters": {
                "type": "object",
                "properties": {"path": {"type": "string"}},
                "required": ["path"],
            },
        },
    }
]
ASK = [{"role": "user", "content": "Complete: def add(a, b):"}]
IMAGE = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII="


@pytest.fixture
def auto_routes(sandbox, settings):
    """small: an OpenAI-kind model of 8k tokens, text only, no tools; frontier: an
    Anthropic-kind model of 200k tokens with images; jinf-auto over both, small first."""
    settings.PROXY_COOLDOWN_FAILURES = 1
    apply(
        {
            "providers": [
                {"name": "up-openai", "kind": "openai", "base_url": sandbox.url + "/v1",
                 "api_key": "sk-o"},
                {"name": "up-anthropic", "kind": "anthropic", "base_url": sandbox.url,
                 "api_key": "sk-a"},
            ],
            "models": [
                {"name": "small", "price": SMALL, "context_window": 8000, "tools": False,
                 "modalities": ["text"],
                 "deployments": [{"provider": "up-openai", "model": "small"}]},
                {"name": "frontier", "price": FRONTIER, "context_window": 200000,
                 "modalities": ["text", "image"],
                 "deployments": [{"provider": "up-anthropic", "model": "frontier"}]},
                {"name": "jinf-auto", "auto": {"candidates": ["small", "frontier"]}},
            ],
        }
    )  # fmt: skip
    table.invalidate()
    return sandbox


def gpt(server, tenant) -> openai.OpenAI:
    return tenant.client(server)


def claude(server, tenant) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=server.url, api_key=tenant.secret, max_retries=0)


def upstream_models(sandbox) -> list[str]:
    return [r["base_model"] for r in sandbox.state.requests]


def cost(price: dict, usage_in: int, usage_out: int) -> int:
    """pico-USD at USD per million tokens."""
    return (
        int(Decimal(str(price["input"])) * 10**6) * usage_in
        + int(Decimal(str(price["output"])) * 10**6) * usage_out
    )


def test_a_short_chat_goes_to_the_small_model_named_in_the_answer_header_and_record(
    asgi_server, auto_routes, tenant
):
    raw = gpt(asgi_server, tenant).chat.completions.with_raw_response.create(
        model="jinf-auto", messages=ASK
    )
    answer = raw.parse()
    assert raw.headers["x-jinf-routed-model"] == "small"
    assert answer.model == "small"
    assert upstream_models(auto_routes) == ["small"]
    (record,) = records(1)
    assert (record.model, record.provider, record.status) == ("small", "up-openai", "ok")
    usage = answer.usage
    assert record.cost_pico == cost(SMALL, usage.prompt_tokens, usage.completion_tokens)
    assert record.cost_pico > 0


def test_a_long_context_goes_to_the_frontier_model_streamed(asgi_server, auto_routes, tenant):
    long = [{"role": "user", "content": "Refactor these files:\n" + "x = 1\n" * 6000}]
    stream = gpt(asgi_server, tenant).chat.completions.create(
        model="jinf-auto", messages=long, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    assert {c.model for c in chunks} == {"frontier"}
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert upstream_models(auto_routes) == ["frontier"]
    (record,) = records(1)
    assert record.model == "frontier" and record.streamed
    last = chunks[-1].usage
    assert record.cost_pico == cost(FRONTIER, last.prompt_tokens, last.completion_tokens)


def test_tools_go_to_the_model_that_takes_them_as_a_streamed_tool_call(
    asgi_server, auto_routes, tenant
):
    client = gpt(asgi_server, tenant)
    with client.chat.completions.stream(model="jinf-auto", messages=ASK, tools=TOOLS) as stream:
        final = stream.get_final_completion()
    assert final.model == "frontier"
    assert final.choices[0].finish_reason == "tool_calls"
    assert final.choices[0].message.tool_calls[0].function.name == "read_file"
    assert upstream_models(auto_routes) == ["frontier"]
    assert records(1)[0].model == "frontier"


def test_the_anthropic_sdk_streams_a_tool_call_through_the_automatic_model(
    asgi_server, auto_routes, tenant
):
    tools = [{"name": "read_file", "description": "Read a file",
              "input_schema": TOOLS[0]["function"]["parameters"]}]  # fmt: skip
    with claude(asgi_server, tenant).messages.stream(
        model="jinf-auto", max_tokens=200, messages=ASK, tools=tools
    ) as stream:
        final = stream.get_final_message()
    assert final.model == "frontier"
    assert final.stop_reason == "tool_use"
    assert [b.type for b in final.content if b.type == "tool_use"] == ["tool_use"]
    # A short Anthropic-shape chat without tools goes to small, across shapes.
    plain = claude(asgi_server, tenant).messages.create(
        model="jinf-auto", max_tokens=100, messages=ASK
    )
    assert plain.model == "small" and plain.content[0].text
    assert upstream_models(auto_routes) == ["frontier", "small"]
    assert [r.model for r in records(2)] == ["frontier", "small"]


def test_an_image_goes_to_the_model_that_takes_images(asgi_server, auto_routes, tenant):
    ask = [{"role": "user", "content": [
        {"type": "text", "text": "What is in this picture?"},
        {"type": "image_url", "image_url": {"url": IMAGE}},
    ]}]  # fmt: skip
    answer = gpt(asgi_server, tenant).chat.completions.create(model="jinf-auto", messages=ask)
    assert answer.model == "frontier"
    assert upstream_models(auto_routes) == ["frontier"]


def test_a_candidate_down_is_skipped_while_it_cools_down(asgi_server, sandbox, tenant, settings):
    settings.PROXY_COOLDOWN_FAILURES = 1
    apply(
        {
            "providers": [{"name": "up", "kind": "openai", "base_url": sandbox.url + "/v1",
                           "api_key": "sk"}],
            "models": [
                {"name": "small", "price": SMALL,
                 "deployments": [{"provider": "up", "model": "small@fault=503"}]},
                {"name": "frontier", "price": FRONTIER,
                 "deployments": [{"provider": "up", "model": "frontier"}]},
                {"name": "jinf-auto", "auto": {"candidates": ["small", "frontier"]}},
            ],
        }
    )  # fmt: skip
    table.invalidate()
    client = gpt(asgi_server, tenant)
    with pytest.raises(openai.APIStatusError) as failed:
        client.chat.completions.create(model="jinf-auto", messages=ASK)
    assert failed.value.status_code in (502, 503)
    assert failed.value.response.headers["x-jinf-routed-model"] == "small"
    for _ in range(3):
        answer = client.chat.completions.create(model="jinf-auto", messages=ASK)
        assert answer.model == "frontier"
    assert upstream_models(sandbox) == ["small", "frontier", "frontier", "frontier"]
    assert [r.model for r in records(4)] == ["small", "frontier", "frontier", "frontier"]


def test_no_candidate_fits_is_a_400_in_each_shape(asgi_server, auto_routes, tenant):
    huge = [{"role": "user", "content": "y " * 500_000}]
    r = httpx.post(
        asgi_server.url + "/v1/chat/completions",
        headers={"Authorization": f"Bearer {tenant.secret}"},
        json={"model": "jinf-auto", "messages": huge},
        timeout=30,
    )
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert err["code"] == "no_candidate_fits" and err["param"] == "model"
    assert "small: its context window of 8,000 tokens" in err["message"]
    assert "frontier: its context window of 200,000 tokens" in err["message"]
    r = httpx.post(
        asgi_server.url + "/v1/messages",
        headers={"x-api-key": tenant.secret, "anthropic-version": "2023-06-01"},
        json={"model": "jinf-auto", "max_tokens": 10, "messages": huge},
        timeout=30,
    )
    assert r.status_code == 400 and r.json()["error"]["type"] == "invalid_request_error"
    assert auto_routes.state.requests == []
    assert [x.http_status for x in records(2)] == [400, 400]


def test_a_key_allowed_only_the_automatic_model_reaches_its_candidates(
    asgi_server, auto_routes, transactional_db
):
    from tests.proxy.conftest import make_tenant

    limited = make_tenant("only-auto", allowed_models=["jinf-auto"])
    assert (
        gpt(asgi_server, limited).chat.completions.create(model="jinf-auto", messages=ASK).model
        == "small"
    )
    with pytest.raises(openai.PermissionDeniedError):
        gpt(asgi_server, limited).chat.completions.create(model="small", messages=ASK)
