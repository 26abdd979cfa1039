"""Anthropic Messages requests, as the real SDK sends them, in canonical form; every
refusal names its field the way Anthropic's own errors do."""

from collections.abc import Iterator

import anthropic
import pytest

from proxy.translate.canonical import (
    ChatRequest,
    ImagePart,
    Message,
    TextPart,
    Tool,
    ToolCall,
    ToolChoice,
)
from proxy.translate.errors import ProxyError
from proxy.translate.shapes import anthropic as shape
from sandbox import SandboxServer

WEATHER = {
    "name": "get_weather",
    "description": "Weather for a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
}
PNG = "iVBORw0KGgo="


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer() as server:
        yield server


def test_parse_what_the_sdk_sends(sandbox: SandboxServer) -> None:
    sdk = anthropic.Anthropic(base_url=sandbox.url, api_key="x", max_retries=0)
    sdk.messages.create(
        model="claude-x",
        max_tokens=300,
        system=[{"type": "text", "text": "Be brief."}, {"type": "text", "text": "Use metric."}],
        messages=[
            {"role": "user", "content": [
                {"type": "text", "text": "Weather?"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
                {"type": "image", "source": {"type": "url", "url": "https://x.test/a.png"}},
            ]},
            {"role": "assistant", "content": [
                {"type": "thinking", "thinking": "hm", "signature": "s"},
                {"type": "text", "text": "Checking."},
                {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Oslo"}},
                {"type": "tool_use", "id": "toolu_2", "name": "get_weather", "input": {}},
            ]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "3C"},
                {"type": "tool_result", "tool_use_id": "toolu_2", "is_error": True,
                 "content": [{"type": "text", "text": "no "}, {"type": "text", "text": "city"}]},
                {"type": "text", "text": "And now?"},
            ]},
        ],
        tools=[WEATHER],
        tool_choice={"type": "tool", "name": "get_weather", "disable_parallel_tool_use": True},
        stop_sequences=["END"],
        metadata={"user_id": "u-1"},
        extra_body={"temperature": 0.2, "top_k": 3},  # this SDK has no arguments for them
    )  # fmt: skip
    sent = sandbox.state.requests[-1]["body"]
    assert shape.parse(sent) == ChatRequest(
        model="claude-x",
        messages=[
            Message("system", [TextPart("Be brief."), TextPart("Use metric.")]),
            Message("user", [TextPart("Weather?"), ImagePart(media_type="image/png", data=PNG),
                             ImagePart(url="https://x.test/a.png")]),
            Message("assistant", [TextPart("Checking.")], tool_calls=[
                ToolCall("toolu_1", "get_weather", '{"city":"Oslo"}'),
                ToolCall("toolu_2", "get_weather", "{}"),
            ]),
            Message("tool", [TextPart("3C")], tool_call_id="toolu_1"),
            Message("tool", [TextPart("no "), TextPart("city")], tool_call_id="toolu_2", is_error=True),
            Message("user", [TextPart("And now?")]),
        ],
        stream=False,
        include_usage=True,
        max_tokens=300,
        temperature=0.2,
        stop=["END"],
        tools=[Tool("get_weather", "Weather for a city", WEATHER["input_schema"])],
        tool_choice=ToolChoice("tool", "get_weather"),
        parallel_tool_calls=False,
        user="u-1",
        extra={"top_k": 3, "messages.thinking": ["messages.1.content.0"]},
    )  # fmt: skip


def test_parse_plain_strings_and_choices() -> None:
    base = {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}
    request = shape.parse({**base, "system": "sys", "stream": True})
    assert request.messages == [
        Message("system", [TextPart("sys")]),
        Message("user", [TextPart("hi")]),
    ]
    assert request.stream and request.include_usage and request.tool_choice is None
    for given, mode in (("auto", "auto"), ("any", "required"), ("none", "none")):
        choice = shape.parse({**base, "tool_choice": {"type": given}}).tool_choice
        assert choice == ToolChoice(mode)


GOOD = {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}
USER = {"role": "user", "content": "hi"}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"model": None}, "model"),
        ({"model": 3}, "model"),
        ({"max_tokens": None}, "max_tokens"),
        ({"max_tokens": 1.5}, "max_tokens"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"max_tokens": True}, "max_tokens"),
        ({"messages": []}, "messages"),
        ({"messages": "hi"}, "messages"),
        ({"messages": [{"role": "developer", "content": "x"}]}, "messages.0.role"),
        ({"messages": [{"role": "system", "content": [{"type": "image"}]}]}, "messages.0.content.0.type"),
        ({"messages": [USER, {"role": "user", "content": 5}]}, "messages.1.content"),
        ({"messages": [{"role": "user", "content": [{"type": "video"}]}]}, "messages.0.content.0.type"),
        ({"messages": [{"role": "user", "content": [{"type": "tool_use", "id": "a", "name": "b", "input": {}}]}]},
         "messages.0.content.0.type"),
        ({"messages": [{"role": "user", "content": [{"type": "text", "text": 1}]}]}, "messages.0.content.0.text"),
        ({"messages": [{"role": "user", "content": [{"type": "tool_result"}]}]},
         "messages.0.content.0.tool_use_id"),
        ({"messages": [{"role": "assistant", "content": [{"type": "tool_use", "id": "a", "name": "b", "input": []}]}]},
         "messages.0.content.0.input"),
        ({"system": 5}, "system"),
        ({"tools": {}}, "tools"),
        ({"tools": [{"input_schema": {}}]}, "tools.0.name"),
        ({"tools": [{"name": "t"}]}, "tools.0.input_schema"),
        ({"tool_choice": "auto"}, "tool_choice"),
        ({"tool_choice": {"type": "tool"}}, "tool_choice.name"),
        ({"stop_sequences": "END"}, "stop_sequences"),
        ({"stop_sequences": ["a", 1]}, "stop_sequences"),
        ({"stream": "yes"}, "stream"),
        ({"temperature": "hot"}, "temperature"),
    ],
)  # fmt: skip
def test_validation_names_the_field(change: dict, field: str) -> None:
    with pytest.raises(ProxyError) as caught:
        shape.parse({k: v for k, v in {**GOOD, **change}.items() if v is not None})
    assert caught.value.status == 400
    assert caught.value.param == field
    assert caught.value.message.startswith(f"{field}: ")
