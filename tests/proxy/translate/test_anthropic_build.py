"""Canonical requests as the Messages API request they become (plain functions, no
upstream): system blocks one part each, system turns in place under their beta, images,
parallel tool calls, strict and hosted tools, structured outputs, cache breakpoints, and
what Anthropic has no field for refused or left out by name."""

import json

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

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
from proxy.translate.providers.anthropic import ADAPTER, translate
from proxy.translate.wire import Upstream

UP = Upstream("https://api.test", "sk-ant", "claude-up")
BETA = "mid-conversation-system-2026-04-07"
EPHEMERAL = {"type": "ephemeral"}
PNG = "iVBORw0KGgo="
HI = Message("user", [TextPart("hi")])


def built(request: ChatRequest) -> tuple[dict, dict]:
    r = ADAPTER.build(UP, request)
    assert r.url == "https://api.test/v1/messages" and r.headers["x-api-key"] == "sk-ant"
    return orjson.loads(r.body), r.headers


def request(*messages: Message, **fields) -> ChatRequest:
    return ChatRequest("client", list(messages or [HI]), **fields)


@given(st.lists(st.text(min_size=1), min_size=1, max_size=4))
def test_system_parts_reach_anthropic_verbatim_as_separate_blocks(texts: list[str]) -> None:
    system = Message("system", [TextPart(t) for t in texts])
    body, headers = built(request(system, HI))
    assert body["system"] == [{"type": "text", "text": t} for t in texts]
    assert body["messages"] == [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]
    assert "anthropic-beta" not in headers


def test_two_system_parts_keep_their_words_and_breakpoints() -> None:
    system = Message("system", [TextPart("Be brief."), TextPart("Use metric.", EPHEMERAL)])
    extra = Message("system", [TextPart("Cite."), TextPart("")])  # empty text is refused
    body, _ = built(request(system, extra, HI))
    assert body["system"] == [
        {"type": "text", "text": "Be brief."},
        {"type": "text", "text": "Use metric.", "cache_control": EPHEMERAL},
        {"type": "text", "text": "Cite."},
    ]


def test_a_later_system_message_stays_in_place_under_the_beta() -> None:
    messages = [
        Message("system", [TextPart("lead")]),
        Message("user", [TextPart("q")]),
        Message("assistant", [], tool_calls=[ToolCall("t1", "f", "{}")]),
        Message("tool", [TextPart("r")], tool_call_id="t1"),
        Message("system", [TextPart("env"), TextPart("now", EPHEMERAL)]),
    ]
    body, headers = built(request(*messages))
    assert body["system"] == [{"type": "text", "text": "lead"}]
    assert body["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "q"}]},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "f", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "r"}]},
        {"role": "system", "content": [{"type": "text", "text": "env"},
                                       {"type": "text", "text": "now", "cache_control": EPHEMERAL}]},
    ]  # fmt: skip
    assert headers["anthropic-beta"] == BETA
    between = request(HI, Message("system", [TextPart("s")]), Message("user", [TextPart("u")]))
    turns = built(between)[0]["messages"]
    assert [t["role"] for t in turns] == ["user", "system", "user"]  # never merged across it


def test_an_image_in_a_system_message_is_refused_or_dropped() -> None:
    system = Message("system", [TextPart("s"), ImagePart(url="https://x.test/a.png")])
    with pytest.raises(ProxyError) as caught:
        built(request(HI, system))
    assert caught.value.param == "messages[1].content"
    dropping = request(HI, system, drop_unsupported=True)
    assert built(dropping)[0]["messages"][1]["content"] == [{"type": "text", "text": "s"}]
    assert dropping.dropped == ["messages[1].content"]


def test_user_parts_and_images_both_ways() -> None:
    user = Message("user", [
        TextPart("one"), TextPart("two", EPHEMERAL),
        ImagePart(url="https://x.test/a.png"),
        ImagePart(url=f"data:image/jpeg;base64,{PNG}", detail="high"),
        ImagePart(media_type="image/webp", data=PNG, cache_control=EPHEMERAL),
    ])  # fmt: skip
    req = request(user)
    body, _ = built(req)
    assert body["messages"][0]["content"] == [
        {"type": "text", "text": "one"},
        {"type": "text", "text": "two", "cache_control": EPHEMERAL},
        {"type": "image", "source": {"type": "url", "url": "https://x.test/a.png"}},
        {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": PNG}},
        {"type": "image", "source": {"type": "base64", "media_type": "image/webp", "data": PNG},
         "cache_control": EPHEMERAL},
    ]  # fmt: skip
    assert req.dropped == ["detail"]


def test_parallel_tool_calls_and_their_results() -> None:
    messages = [
        HI,
        Message("assistant", [TextPart("Both.")], tool_calls=[
            ToolCall("t1", "f", '{"a": 1}'), ToolCall("t2", "g", ""), ToolCall("t3", "f", "[1]"),
        ]),
        Message("tool", [TextPart("one")], tool_call_id="t1"),
        Message("tool", [TextPart("a"), TextPart("b")], tool_call_id="t2", is_error=True),
        Message("tool", [TextPart("c"), ImagePart(media_type="image/png", data=PNG)],
                tool_call_id="t3", cache_control=EPHEMERAL),
        Message("tool", [], tool_call_id="t4"),
        Message("user", [TextPart("next")]),
    ]  # fmt: skip
    body, _ = built(request(*messages))
    assert body["messages"][1:] == [
        {"role": "assistant", "content": [
            {"type": "text", "text": "Both."},
            {"type": "tool_use", "id": "t1", "name": "f", "input": {"a": 1}},
            {"type": "tool_use", "id": "t2", "name": "g", "input": {}},
            {"type": "tool_use", "id": "t3", "name": "f", "input": {"input": [1]}},
        ]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "t1", "content": "one"},
            {"type": "tool_result", "tool_use_id": "t2", "is_error": True,
             "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
            {"type": "tool_result", "tool_use_id": "t3", "cache_control": EPHEMERAL, "content": [
                {"type": "text", "text": "c"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
            ]},
            {"type": "tool_result", "tool_use_id": "t4"},
            {"type": "text", "text": "next"},
        ]},
    ]  # fmt: skip


def test_tools_strict_cached_and_web_search() -> None:
    tools = [
        Tool("f", "F", {"properties": {"a": {"type": "string"}}}, strict=True,
             cache_control=EPHEMERAL),
        Tool("web_search", hosted="web_search", options={
            "max_uses": 3, "filters": {"allowed_domains": ["a.test"]},
            "user_location": {"type": "approximate", "city": "Oslo"},
            "external_web_access": False,
        }),
    ]  # fmt: skip
    req = request(tools=tools, tool_choice=ToolChoice("tool", "f"), parallel_tool_calls=False)
    body, _ = built(req)
    assert body["tools"] == [
        {"name": "f", "description": "F", "strict": True, "cache_control": EPHEMERAL,
         "input_schema": {"type": "object", "properties": {"a": {"type": "string"}}}},
        {"type": "web_search_20250305", "name": "web_search", "max_uses": 3,
         "allowed_domains": ["a.test"], "user_location": {"type": "approximate", "city": "Oslo"}},
    ]  # fmt: skip
    assert body["tool_choice"] == {"type": "tool", "name": "f", "disable_parallel_tool_use": True}
    assert req.dropped == ["tools[1].external_web_access"]


def test_other_hosted_tools_are_refused_or_dropped() -> None:
    tools = [Tool("f"), Tool("code_interpreter", hosted="code_interpreter")]
    with pytest.raises(ProxyError) as caught:
        built(request(tools=tools))
    assert (caught.value.status, caught.value.param) == (400, "tools[1]")
    assert "code_interpreter" in caught.value.message
    req = request(tools=tools, drop_unsupported=True)
    assert [t["name"] for t in built(req)[0]["tools"]] == ["f"]
    assert req.dropped == ["tools[1]"]
    only = request(tools=tools[1:], tool_choice=ToolChoice("required"), drop_unsupported=True)
    body, _ = built(only)
    assert "tools" not in body and "tool_choice" not in body  # a choice among no tools


def test_structured_outputs() -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer"}},
              "additionalProperties": False}  # fmt: skip
    fmt = {"type": "json_schema", "json_schema": {"name": "n", "strict": True, "schema": schema}}
    body, headers = built(request(response_format=fmt))
    assert body["output_config"] == {"format": {"type": "json_schema", "schema": schema}}
    assert "anthropic-beta" not in headers  # generally available: no beta header
    assert "output_config" not in built(request(response_format={"type": "text"}))[0]
    with pytest.raises(ProxyError) as caught:
        built(request(response_format={"type": "json_object"}))
    assert (caught.value.status, caught.value.param) == (400, "response_format")
    req = request(response_format={"type": "json_object"}, drop_unsupported=True)
    assert "output_config" not in built(req)[0] and req.dropped == ["response_format"]
    with pytest.raises(ProxyError) as caught:
        built(request(response_format={"type": "json_schema", "json_schema": {"name": "n"}}))
    assert caught.value.param == "response_format.json_schema.schema"


def test_extras_anthropic_has_no_field_for_are_left_out_by_name() -> None:
    extra = {"top_k": 2, "seed": 1, "reasoning": {"effort": "low"}, "store": False}
    req = request(extra=extra, user="u-1", stop=["END"], temperature=0.2, max_tokens=99)
    body, _ = built(req)
    assert body == {
        "model": "claude-up", "max_tokens": 99, "top_k": 2, "temperature": 0.2,
        "stop_sequences": ["END"], "metadata": {"user_id": "u-1"},
        "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
    }  # fmt: skip
    assert req.dropped == ["seed", "reasoning", "store"]


def test_deep_schemas_and_arguments_are_written() -> None:
    deep: dict = {"type": "string"}
    for _ in range(400):
        deep = {"type": "array", "items": deep}
    args = json.dumps(deep)
    req = request(
        HI, Message("assistant", [], tool_calls=[ToolCall("t", "f", args)]),
        tools=[Tool("f", None, {"properties": {"x": deep}})],
    )  # fmt: skip
    body = json.loads(ADAPTER.build(UP, req).body)
    assert body["tools"][0]["input_schema"]["properties"]["x"] == deep
    assert body["messages"][1]["content"][0]["input"] == deep


def test_stream_asks_for_a_stream() -> None:
    body, headers = built(request(stream=True))
    assert body["stream"] is True and headers["anthropic-version"] == translate.API_VERSION
