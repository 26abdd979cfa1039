"""The official openai SDK against the running gateway, as a user's agent would use it."""

import json
from decimal import Decimal

import openai
import pytest

from accounts.money import PICO_PER_USD
from tests.proxy.conftest import PRICE, records

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Weather for a city",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
                "required": ["city", "days"],
            },
        },
    }
]
ASK = [{"role": "user", "content": "What is the weather in Paris for three days?"}]


def direct(sandbox) -> openai.OpenAI:
    """The same upstream without the gateway: the truth to compare against."""
    return openai.OpenAI(base_url=sandbox.url + "/v1", api_key="sk-sandbox-secret", max_retries=0)


def expected_cost(usage) -> float:
    cached = (usage.prompt_tokens_details.cached_tokens or 0) if usage.prompt_tokens_details else 0
    usd = (
        (usage.prompt_tokens - cached) * Decimal(str(PRICE["input"]))
        + cached * Decimal(str(PRICE["cached_input"]))
        + usage.completion_tokens * Decimal(str(PRICE["output"]))
    ) / 1_000_000
    return float(usd)


def test_chat_non_stream(asgi_server, routes, tenant):
    answer = tenant.client(asgi_server).chat.completions.create(model="demo", messages=ASK)
    truth = direct(routes).chat.completions.create(model="demo", messages=ASK)
    assert answer.model == "demo"
    assert answer.choices[0].message.content == truth.choices[0].message.content
    assert answer.choices[0].finish_reason == "stop"
    assert answer.usage.prompt_tokens == truth.usage.prompt_tokens
    assert answer.usage.completion_tokens == truth.usage.completion_tokens
    assert answer.usage.model_extra["cost"] == expected_cost(truth.usage)
    assert routes.state.requests[0]["headers"]["authorization"] == "Bearer sk-sandbox-secret"


def test_chat_stream_hides_usage_unless_asked(asgi_server, routes, tenant):
    client = tenant.client(asgi_server)
    chunks = list(client.chat.completions.create(model="demo", messages=ASK, stream=True))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    truth = direct(routes).chat.completions.create(model="demo", messages=ASK)
    assert text == truth.choices[0].message.content
    assert all(c.model == "demo" for c in chunks)
    assert all(c.usage is None and c.choices for c in chunks)
    # The gateway asked the upstream for usage anyway, and recorded it exactly.
    sent = routes.state.requests[0]["body"]
    assert sent["stream_options"] == {"include_usage": True}
    (record,) = records(1)
    assert (record.input_tokens, record.output_tokens) == (
        truth.usage.prompt_tokens, truth.usage.completion_tokens,
    )  # fmt: skip
    assert not record.tokens_estimated and record.streamed and record.ttft_ms is not None


def test_chat_stream_with_include_usage_carries_cost(asgi_server, routes, tenant):
    chunks = list(
        tenant.client(asgi_server).chat.completions.create(
            model="demo-cached", messages=ASK, stream=True, stream_options={"include_usage": True}
        )
    )
    last = chunks[-1]
    assert last.choices == [] and last.usage is not None
    assert last.usage.prompt_tokens_details.cached_tokens == 4
    assert last.usage.model_extra["cost"] == expected_cost(last.usage)


def test_streamed_tool_call_reassembled_by_the_sdk_helper(asgi_server, routes, tenant):
    client = tenant.client(asgi_server)
    with client.chat.completions.stream(model="demo", messages=ASK, tools=TOOLS) as stream:
        final = stream.get_final_completion()
    call = final.choices[0].message.tool_calls[0]
    truth = direct(routes).chat.completions.create(model="demo", messages=ASK, tools=TOOLS)
    expected = truth.choices[0].message.tool_calls[0]
    assert final.choices[0].finish_reason == "tool_calls"
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == json.loads(expected.function.arguments)
    assert call.id == expected.id or call.id.startswith("call_")


def test_tool_result_round_trip(asgi_server, routes, tenant):
    client = tenant.client(asgi_server)
    first = client.chat.completions.create(model="demo", messages=ASK, tools=TOOLS)
    call = first.choices[0].message.tool_calls[0]
    messages = [
        *ASK,
        first.choices[0].message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": "sunny, 21°C"},
    ]
    second = client.chat.completions.create(model="demo", messages=messages, tools=TOOLS)
    assert "sunny, 21°C" in second.choices[0].message.content


def test_unknown_fields_pass_through_untouched(asgi_server, routes, tenant):
    tenant.client(asgi_server).chat.completions.create(
        model="demo", messages=ASK, seed=7, n=1, extra_body={"top_k": 5, "vendor": {"x": [1]}}
    )
    sent = routes.state.requests[0]["body"]
    assert sent["top_k"] == 5 and sent["vendor"] == {"x": [1]} and sent["seed"] == 7
    assert sent["model"] == "demo"  # the deployment's upstream id


def test_embeddings(asgi_server, routes, tenant):
    answer = tenant.client(asgi_server).embeddings.create(model="demo", input=["a b c", "d"])
    truth = direct(routes).embeddings.create(model="demo", input=["a b c", "d"])
    assert answer.model == "demo"
    assert [d.embedding for d in answer.data] == [d.embedding for d in truth.data]
    assert answer.usage.prompt_tokens == truth.usage.prompt_tokens


def test_completions_non_stream_and_stream(asgi_server, routes, tenant):
    client = tenant.client(asgi_server)
    answer = client.completions.create(model="demo", prompt="Say hello")
    assert answer.model == "demo" and answer.choices[0].text
    streamed = "".join(
        c.choices[0].text
        for c in client.completions.create(model="demo", prompt="Say hello", stream=True)
        if c.choices
    )
    assert streamed == answer.choices[0].text
    assert len(records(2)) == 2


def test_models_lists_what_the_key_may_use(asgi_server, routes, transactional_db):
    from tests.proxy.conftest import make_tenant

    everything = make_tenant("all")
    limited = make_tenant("some", allowed_models=["demo"])
    assert [m.id for m in everything.client(asgi_server).models.list()] == [
        "demo",
        "demo-cached",
        "slow",
    ]
    assert [m.id for m in limited.client(asgi_server).models.list()] == ["demo"]
    assert limited.client(asgi_server).models.retrieve("demo").id == "demo"
    with pytest.raises(openai.NotFoundError):
        limited.client(asgi_server).models.retrieve("slow")


def test_typed_errors(asgi_server, routes, transactional_db):
    from tests.proxy.conftest import make_tenant

    ok = make_tenant("ok")
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(
            base_url=asgi_server.url + "/v1", api_key="jinf_wrong", max_retries=0
        ).models.list()
    with pytest.raises(openai.NotFoundError, match="does not exist"):
        ok.client(asgi_server).chat.completions.create(model="nope", messages=ASK)
    with pytest.raises(openai.PermissionDeniedError, match="may not use"):
        make_tenant("narrow", allowed_models=["slow"]).client(asgi_server).chat.completions.create(
            model="demo", messages=ASK
        )
    limited = make_tenant("rpm", rpm_limit=1).client(asgi_server)
    limited.chat.completions.create(model="demo", messages=ASK)
    with pytest.raises(openai.RateLimitError) as info:
        limited.chat.completions.create(model="demo", messages=ASK)
    assert 1 <= int(info.value.response.headers["retry-after"]) <= 60
    with pytest.raises(openai.APIStatusError) as info:
        make_tenant("broke", usd_pico=0).client(asgi_server).chat.completions.create(
            model="demo", messages=ASK
        )
    assert info.value.status_code == 402 and info.value.code == "insufficient_credits"
    assert "Add credits" in info.value.message
    with pytest.raises(openai.BadRequestError) as info:
        ok.client(asgi_server).chat.completions.create(model="demo", messages=ASK, n="two")
    assert info.value.param == "n"


def test_rate_limit_headers(asgi_server, routes, transactional_db):
    from tests.proxy.conftest import make_tenant

    client = make_tenant("rl", rpm_limit=5, tpm_limit=100000).client(asgi_server)
    raw = client.chat.completions.with_raw_response.create(model="demo", messages=ASK)
    assert raw.headers["x-ratelimit-limit-requests"] == "5"
    assert raw.headers["x-ratelimit-remaining-requests"] == "4"
    assert raw.headers["x-ratelimit-limit-tokens"] == "100000"
    assert raw.headers["x-request-id"].startswith("req_")
    unlimited = make_tenant("free").client(asgi_server)
    raw = unlimited.chat.completions.with_raw_response.create(model="demo", messages=ASK)
    assert "x-ratelimit-limit-requests" not in raw.headers


def test_cost_is_pico_exact(asgi_server, routes, tenant):
    tenant.client(asgi_server).chat.completions.create(model="demo-cached", messages=ASK)
    (record,) = records(1)
    expected = (
        (record.input_tokens - record.cached_tokens) * 1_500_000
        + record.cached_tokens * 375_000
        + record.output_tokens * 2_250_000
    )
    assert record.cached_tokens == 4
    assert record.cost_pico == expected
    assert Decimal(record.cost_pico) / PICO_PER_USD > 0
