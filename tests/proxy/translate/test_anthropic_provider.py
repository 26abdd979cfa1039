"""The anthropic provider kind against the sandbox speaking Anthropic's wire format:
translated requests (canonical → Messages API → canonical events), sent as they are built."""

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
from proxy.translate.providers.anthropic import ADAPTER as anthropic
from proxy.translate.wire import Upstream
from sandbox import SandboxServer

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


def upstream(sandbox: SandboxServer, model: str = "demo", base: str = "") -> Upstream:
    return Upstream(base or sandbox.url, "sk-ant-up", model)


def call(up: Upstream, request: ChatRequest) -> list[Event]:
    built = anthropic.build(up, request)
    response = httpx.post(built.url, content=built.body, headers=built.headers, timeout=10)
    assert response.status_code == 200, response.text
    if not request.stream:
        return anthropic.parse_answer(response.json())
    parser = anthropic.stream_parser()
    content = response.content
    events = [e for i in range(0, len(content), 9) for e in parser.feed(content[i : i + 9])]
    assert parser.done
    return events


def both(up: Upstream, request: ChatRequest) -> tuple[Answer, Answer]:
    whole = Answer.of(call(up, request))
    request.stream = True
    streamed = Answer.of(call(up, request))
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
    request = history()
    whole, streamed = both(upstream(sandbox, "demo@cached=3"), request)
    sent = sandbox.state.requests[-1]
    assert sent["path"] == "/v1/messages"
    assert sent["headers"]["x-api-key"] == "sk-ant-up"
    assert sent["headers"]["anthropic-version"] == "2023-06-01"
    assert sent["headers"]["anthropic-beta"] == "mid-conversation-system-2026-04-07"
    assert request.dropped == ["seed", "logprobs"]  # OpenAI's; top_k is Anthropic's too
    body = sent["body"]
    assert body == {
        "model": "demo@cached=3",
        "max_tokens": 4096,
        "system": [{"type": "text", "text": "Be brief."}],
        "messages": [
            {"role": "user", "content": [
                {"type": "text", "text": "Weather in Paris?"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
            ]},
            {"role": "system", "content": [{"type": "text", "text": "Use metric."}]},
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
        headers={"x-api-key": "k", "anthropic-version": "2023-06-01",
                 "anthropic-beta": "mid-conversation-system-2026-04-07"},
    ).json()["input_tokens"]  # fmt: skip
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
    whole, streamed = both(upstream(sandbox, "demo@parallel=1"), request)
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
    whole, streamed = both(upstream(sandbox, base=sandbox.url + "/v1/"), request)
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

    messages = orjson.loads(anthropic.build(upstream(sandbox), request).body)["messages"]
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


def test_structured_output_and_web_search_are_what_anthropic_takes(sandbox: SandboxServer) -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"],
              "additionalProperties": False}  # fmt: skip
    request = ChatRequest(
        "c",
        [Message("user", [TextPart("hi")])],
        response_format={"type": "json_schema", "json_schema": {"name": "n", "schema": schema}},
        tools=[Tool("web_search", hosted="web_search", options={"max_uses": 2})],
    )
    whole, streamed = both(upstream(sandbox), request)
    sent = sandbox.state.requests[-1]["body"]
    assert sent["output_config"] == {"format": {"type": "json_schema", "schema": schema}}
    assert sent["tools"] == [{"type": "web_search_20250305", "name": "web_search", "max_uses": 2}]
    assert orjson.loads(whole.text) == orjson.loads(streamed.text)
    assert set(orjson.loads(whole.text)) == {"n"}
    assert whole.tool_calls == streamed.tool_calls == []  # the server's own tool: never ours
