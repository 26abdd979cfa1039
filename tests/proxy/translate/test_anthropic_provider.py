"""The anthropic provider kind against the sandbox speaking Anthropic's wire format:
translated requests (canonical → Messages API → canonical events) and native passthrough."""

import asyncio
from collections.abc import Iterator

import httpx
import orjson
import pytest

from proxy.translate.canonical import (
    Answer,
    ChatRequest,
    Event,
    Finish,
    ImagePart,
    Message,
    TextPart,
    Tool,
    ToolCall,
    ToolChoice,
    Usage,
)
from proxy.providers import anthropic
from sandbox import SandboxServer
from proxy.table import DeploymentEntry, ProviderEntry
from proxy.upstream import aclose_all, client

WEATHER = Tool(
    "get_weather",
    "Weather for a city",
    {
        "type": "object",
        "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
        "required": ["city", "days"],
    },
)
TIME = Tool("get_time", None, {"properties": {}})
PNG = "iVBORw0KGgo="


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(chunks=4) as server:
        yield server


def deployment(sandbox: SandboxServer, model: str = "demo", base: str = "") -> DeploymentEntry:
    provider = ProviderEntry("up", "anthropic", base or sandbox.url, "sk-ant-up", 10.0)
    return DeploymentEntry(1, provider, model, 0, 1)


def call(dep: DeploymentEntry, request: ChatRequest) -> list[Event]:
    async def go() -> list[Event]:
        try:
            response = await client().send(anthropic.build(dep, request), stream=True)
            assert response.status_code == 200, await response.aread()
            if not request.stream:
                return anthropic.parse_answer(orjson.loads(await response.aread()))
            parser, events = anthropic.stream_parser(), []
            async for chunk in response.aiter_raw():
                events += parser.feed(chunk)
            assert parser.done
            return events
        finally:
            await aclose_all()

    return asyncio.run(go())


def both(dep: DeploymentEntry, request: ChatRequest) -> tuple[Answer, Answer]:
    whole = Answer.of(call(dep, request))
    request.stream = True
    streamed = Answer.of(call(dep, request))
    return whole, streamed


def history() -> ChatRequest:
    return ChatRequest(
        model="client-name",
        messages=[
            Message("system", [TextPart("Be brief.")]),
            Message(
                "user",
                [TextPart("Weather in Paris?"), ImagePart(url=f"data:image/png;base64,{PNG}")],
            ),
            Message("system", [TextPart("Use metric.")]),
            Message(
                "assistant",
                [TextPart("Let me check.")],
                tool_calls=[
                    ToolCall("call_1", "get_weather", '{"city": "Paris", "days": 2}'),
                    ToolCall("call_2", "get_time", ""),
                    ToolCall("call_3", "get_time", "[1, 2]"),
                ],
            ),
            Message("tool", [TextPart("18C sunny")], tool_call_id="call_1"),
            Message("tool", [TextPart("boom")], tool_call_id="call_2", is_error=True),
            Message("tool", [TextPart("noon")], tool_call_id="call_3"),
            Message("user", [TextPart("Thanks")]),
        ],
        tools=[WEATHER, TIME],
        tool_choice=ToolChoice("auto"),
        parallel_tool_calls=False,
        temperature=0.5,
        stop=["never"],
        user="user-7",
        extra={"seed": 1, "logprobs": True, "top_k": 5},
    )


def test_history_reaches_anthropic_in_its_own_shape(sandbox: SandboxServer) -> None:
    whole, streamed = both(deployment(sandbox, "demo@cached=3"), history())
    sent = sandbox.state.requests[-1]
    assert sent["path"] == "/v1/messages"
    assert sent["headers"]["x-api-key"] == "sk-ant-up"
    assert sent["headers"]["anthropic-version"] == "2023-06-01"
    body = sent["body"]
    assert body == {
        "model": "demo@cached=3",
        "max_tokens": 4096,
        "system": "Be brief.\n\nUse metric.",
        "messages": [
            {"role": "user", "content": [
                {"type": "text", "text": "Weather in Paris?"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
            ]},
            {"role": "assistant", "content": [
                {"type": "text", "text": "Let me check."},
                {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Paris", "days": 2}},
                {"type": "tool_use", "id": "call_2", "name": "get_time", "input": {}},
                {"type": "tool_use", "id": "call_3", "name": "get_time", "input": {"input": [1, 2]}},
            ]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "call_1", "content": "18C sunny"},
                {"type": "tool_result", "tool_use_id": "call_2", "content": "boom", "is_error": True},
                {"type": "tool_result", "tool_use_id": "call_3", "content": "noon"},
                {"type": "text", "text": "Thanks"},
            ]},
        ],
        "temperature": 0.5,
        "stop_sequences": ["never"],
        "metadata": {"user_id": "user-7"},
        "stream": True,
        "top_k": 5,
        "tools": [
            {"name": "get_weather", "description": "Weather for a city", "input_schema": WEATHER.parameters},
            {"name": "get_time", "input_schema": {"type": "object", "properties": {}}},
        ],
        "tool_choice": {"type": "auto", "disable_parallel_tool_use": True},
    }  # fmt: skip
    assert whole.text == streamed.text == "The tool returned: 18C sunny boom noon"
    assert whole.finish == streamed.finish == Finish("stop")
    del body["stream"]
    total = httpx.post(
        sandbox.url + "/v1/messages/count_tokens",
        json=body,
        headers={"x-api-key": "k", "anthropic-version": "2023-06-01"},
    ).json()["input_tokens"]
    assert whole.usage == streamed.usage == Usage(input=total, output=whole.usage.output, cached=3)
    assert whole.usage.output > 0


@pytest.mark.parametrize(
    ("choice", "parallel", "sent", "names"),
    [
        (ToolChoice("required"), None, {"type": "any"}, ["get_weather", "get_time"]),
        (ToolChoice("tool", "get_time"), None, {"type": "tool", "name": "get_time"}, ["get_time"]),
        (None, False, {"type": "auto", "disable_parallel_tool_use": True}, ["get_weather"]),
        (ToolChoice("none"), False, {"type": "none"}, []),
    ],
)
def test_tool_calls_stream_and_whole_agree(
    sandbox: SandboxServer, choice, parallel, sent, names
) -> None:
    request = ChatRequest(
        model="c",
        messages=[Message("user", [TextPart("hi")])],
        tools=[WEATHER, TIME],
        tool_choice=choice,
        parallel_tool_calls=parallel,
        max_tokens=100,
    )
    whole, streamed = both(deployment(sandbox, "demo@parallel=1"), request)
    assert sandbox.state.requests[-1]["body"].get("tool_choice") == sent
    assert sandbox.state.requests[-1]["body"]["max_tokens"] == 100
    for answer in (whole, streamed):
        assert [c.name for c in answer.tool_calls] == names
        assert all(c.id.startswith("toolu_") for c in answer.tool_calls)
        assert answer.finish == Finish("tool_calls" if names else "stop")
    args = [[orjson.loads(c.arguments) for c in a.tool_calls] for a in (whole, streamed)]
    assert args[0] == args[1]
    if names and names[0] == "get_weather":
        assert args[0][0] == {"city": "sandbox", "days": 42}


@pytest.mark.parametrize(
    ("max_tokens", "stop", "finish", "text"),
    [
        (2, [], Finish("length"), "Hello from"),
        (100, ["sandbox"], Finish("stop", "sandbox"), "Hello from the "),
    ],
)
def test_finish_reasons(sandbox: SandboxServer, max_tokens, stop, finish, text) -> None:
    request = ChatRequest(
        "c", [Message("user", [TextPart("hi")])], max_tokens=max_tokens, stop=stop
    )
    whole, streamed = both(deployment(sandbox, base=sandbox.url + "/v1/"), request)
    assert whole.finish == streamed.finish == finish
    assert whole.text == streamed.text == text


def test_tool_results_lead_their_turn_and_urls_pass_as_urls(sandbox: SandboxServer) -> None:
    request = ChatRequest(
        model="c",
        messages=[
            Message("user", [TextPart("q"), ImagePart(url="https://x.test/a.png")]),
            Message("assistant", [], tool_calls=[ToolCall("call_1", "get_time", "{}")]),
            Message("user", [TextPart("")]),  # empty text, which Anthropic refuses
            Message("user", [TextPart("also this")]),
            Message("tool", [TextPart("noon")], tool_call_id="call_1"),
        ],
    )

    async def build() -> dict:
        try:
            return orjson.loads(anthropic.build(deployment(sandbox), request).content)
        finally:
            await aclose_all()

    messages = asyncio.run(build())["messages"]
    assert messages[0]["content"][1] == {
        "type": "image",
        "source": {"type": "url", "url": "https://x.test/a.png"},
    }
    assert messages[2] == {
        "role": "user",
        "content": [
            {"type": "tool_result", "tool_use_id": "call_1", "content": "noon"},
            {"type": "text", "text": "also this"},
        ],
    }
