"""proxy/translate/shapes/responses.parse: Responses request bodies, as the official openai SDK sends
them, into the canonical ChatRequest; every malformed field a 400 naming it."""

import orjson
import pytest
from pydantic import BaseModel

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
from proxy.translate.providers import KINDS
from proxy.translate.shapes import responses
from proxy.translate.wire import Upstream
from tests.proxy.translate.sdk import sdk_body

WEATHER = {
    "type": "object",
    "properties": {"city": {"type": "string"}},
    "required": ["city"],
    "additionalProperties": False,
}


def test_string_input_with_instructions_and_sampling():
    body = sdk_body(
        lambda c: c.responses.create(
            model="gpt-x", input="Hi there", instructions="Be brief.", max_output_tokens=64,
            temperature=0.2, top_p=0.9, user="u-1", metadata={"team": "a"}, store=True,
            reasoning={"effort": "low"},
        )
    )  # fmt: skip
    request = responses.parse(body)
    assert request == ChatRequest(
        model="gpt-x",
        messages=[
            Message(role="system", content=[TextPart("Be brief.")]),
            Message(role="user", content=[TextPart("Hi there")]),
        ],
        include_usage=True,
        max_tokens=64,
        temperature=0.2,
        top_p=0.9,
        user="u-1",
        extra={"metadata": {"team": "a"}, "store": True, "reasoning": {"effort": "low"}},
        shape_state={"instructions": "Be brief."},  # carried as the system message; echoed
    )


def test_a_tool_round_trip_conversation():
    body = sdk_body(
        lambda c: c.responses.create(
            model="gpt-x",
            input=[
                {"role": "developer", "content": "Use tools."},
                {"role": "user", "content": [
                    {"type": "input_text", "text": "Weather here?"},
                    {"type": "input_image", "image_url": "data:image/png;base64,iVBORw0K", "detail": "low"},
                    {"type": "input_image", "image_url": "https://img.test/a.png", "detail": "auto"},
                ]},
                {"type": "message", "role": "assistant", "status": "completed", "id": "msg_1",
                 "content": [{"type": "output_text", "text": "Checking.", "annotations": []}]},
                {"type": "function_call", "call_id": "call_1", "name": "weather", "arguments": '{"city":"Oslo"}'},
                {"type": "function_call", "call_id": "call_2", "name": "weather", "arguments": '{"city":"Rome"}'},
                {"type": "function_call_output", "call_id": "call_1", "output": "cold"},
                {"type": "function_call_output", "call_id": "call_2", "output": [{"type": "input_text", "text": "warm"}]},
            ],
            tools=[{"type": "function", "name": "weather", "description": "Weather by city",
                    "parameters": WEATHER, "strict": True}],
            tool_choice={"type": "function", "name": "weather"},
            parallel_tool_calls=False,
            stream=True,
        )
    )  # fmt: skip
    request = responses.parse(body)
    assert request.stream is True and request.include_usage is True
    assert request.messages == [
        Message(role="system", content=[TextPart("Use tools.")]),
        Message(role="user", content=[
            TextPart("Weather here?"),
            ImagePart(media_type="image/png", data="iVBORw0K", detail="low"),
            ImagePart(url="https://img.test/a.png", detail="auto"),
        ]),
        Message(role="assistant", content=[TextPart("Checking.")], tool_calls=[
            ToolCall(id="call_1", name="weather", arguments='{"city":"Oslo"}'),
            ToolCall(id="call_2", name="weather", arguments='{"city":"Rome"}'),
        ]),
        Message(role="tool", content=[TextPart("cold")], tool_call_id="call_1"),
        Message(role="tool", content=[TextPart("warm")], tool_call_id="call_2"),
    ]  # fmt: skip
    assert request.tools == [Tool("weather", "Weather by city", WEATHER, strict=True)]
    assert request.tool_choice == ToolChoice(mode="tool", name="weather")
    assert request.parallel_tool_calls is False


def test_function_calls_without_text_are_their_own_assistant_turn():
    request = responses.parse({"model": "m", "input": [
        {"role": "user", "content": "go"},
        {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c1", "output": "ok"},
        {"type": "function_call", "call_id": "c2", "name": "f", "arguments": "{}"},
    ]})  # fmt: skip
    assert [(m.role, [c.id for c in m.tool_calls]) for m in request.messages] == [
        ("user", []), ("assistant", ["c1"]), ("tool", []), ("assistant", ["c2"]),
    ]  # fmt: skip


def test_structured_output_from_sdk_parse_becomes_a_chat_json_schema():
    class Weather(BaseModel):
        city: str

    body = sdk_body(lambda c: c.responses.parse(model="m", input="x", text_format=Weather))
    schema = body["text"]["format"]["schema"]
    assert responses.parse(body).response_format == {
        "type": "json_schema",
        "json_schema": {"name": "Weather", "schema": schema, "strict": True},
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [({"format": {"type": "json_object"}}, {"type": "json_object"}),
     ({"format": {"type": "text"}}, None), ({"verbosity": "low"}, None)],
)  # fmt: skip
def test_text_formats(text, expected):
    request = responses.parse({"model": "m", "input": "x", "text": text})
    assert request.response_format == expected
    # The format is carried; only advice such as verbosity stays in extra, to be left out.
    assert request.extra.get("text") == ({"verbosity": "low"} if "verbosity" in text else None)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("auto", ToolChoice("auto")), ("none", ToolChoice("none")),
     ("required", ToolChoice("required")), (None, None)],
)  # fmt: skip
def test_tool_choice_modes(raw, expected):
    assert responses.parse({"model": "m", "input": "x", "tool_choice": raw}).tool_choice == expected


def test_reasoning_items_passed_back_are_skipped():
    request = responses.parse({"model": "m", "input": [
        {"type": "reasoning", "id": "rs_1", "summary": []}, {"role": "user", "content": "hi"},
    ]})  # fmt: skip
    assert request.messages == [Message(role="user", content=[TextPart("hi")])]


def bad(fields: dict) -> ProxyError:
    with pytest.raises(ProxyError) as caught:
        responses.parse({"model": "m", "input": "hi", **fields})
    assert caught.value.status == 400
    return caught.value


M = {"role": "user", "content": "hi"}


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"model": None}, "model"), ({"model": 3}, "model"), ({"input": None}, "input"),
        ({"input": {"role": "user"}}, "input"), ({"input": []}, "input"),
        ({"input": ["hi"]}, "input[0]"),
        ({"input": [M, {"type": "web_search_call", "id": "ws"}]}, "input[1].type"),
        ({"input": [{"type": "item_reference", "id": "msg_1"}]}, "input[0].type"),
        ({"input": [{"role": "robot", "content": "x"}]}, "input[0].role"),
        ({"input": [{"role": "user", "content": 5}]}, "input[0].content"),
        ({"input": [{"role": "user", "content": [{"type": "audio"}]}]}, "input[0].content[0].type"),
        ({"input": [{"role": "user", "content": [{"type": "input_text", "text": 1}]}]},
         "input[0].content[0].text"),
        ({"input": [{"role": "user", "content": [
            {"type": "input_image", "file_id": "file-1", "detail": "auto"}]}]},
         "input[0].content[0].file_id"),
        ({"input": [{"role": "user", "content": [{"type": "input_file", "file_id": "f"}]}]},
         "input[0].content[0]"),
        ({"input": [{"type": "function_call", "name": "f", "arguments": "{}"}]}, "input[0].call_id"),
        ({"input": [{"type": "function_call", "call_id": "c", "arguments": "{}"}]}, "input[0].name"),
        ({"input": [{"type": "function_call", "call_id": "c", "name": "f", "arguments": {}}]},
         "input[0].arguments"),
        ({"input": [{"type": "function_call_output", "call_id": "c"}]}, "input[0].output"),
        ({"input": [{"type": "function_call_output", "output": "x"}]}, "input[0].call_id"),
        ({"instructions": ["x"]}, "instructions"), ({"stream": "yes"}, "stream"),
        ({"max_output_tokens": "10"}, "max_output_tokens"),
        ({"max_output_tokens": True}, "max_output_tokens"),
        ({"max_output_tokens": 0}, "max_output_tokens"), ({"temperature": "hot"}, "temperature"),
        ({"top_p": False}, "top_p"), ({"parallel_tool_calls": 1}, "parallel_tool_calls"),
        ({"user": 7}, "user"), ({"metadata": "x"}, "metadata"), ({"text": "json"}, "text"),
        ({"text": {"format": "json"}}, "text.format"),
        ({"text": {"format": {"type": "yaml"}}}, "text.format.type"),
        ({"text": {"format": {"type": "json_schema", "schema": {}}}}, "text.format.name"),
        ({"text": {"format": {"type": "json_schema", "name": "n"}}}, "text.format.schema"),
        ({"tools": {"name": "f"}}, "tools"), ({"tools": ["f"]}, "tools[0]"),
        ({"tools": [{"type": "function"}]}, "tools[0].name"),
        ({"tools": [{"type": "function", "name": "f", "parameters": "{}"}]}, "tools[0].parameters"),
        ({"tool_choice": "any"}, "tool_choice"),
        ({"tool_choice": {"type": "function"}}, "tool_choice.name"),
        ({"tool_choice": {"type": "file_search"}}, "tool_choice"),
    ],
)  # fmt: skip
def test_invalid_fields_are_400s_naming_them(fields, param):
    err = bad(fields)
    assert err.param == param
    assert param.removesuffix(".type") in err.message  # the sentence names the field
    assert orjson.loads(err.body())["error"]["param"] == param


@pytest.mark.parametrize(
    ("raw", "hosted"),
    [({"type": "web_search", "external_web_access": False}, "web_search"),
     ({"type": "web_search_preview", "search_context_size": "low"}, "web_search"),
     ({"type": "file_search", "vector_store_ids": ["vs_1"]}, "file_search"),
     ({"type": "mcp", "server_label": "x", "server_url": "https://mcp.test"}, "mcp"),
     ({"type": "code_interpreter", "container": {"type": "auto"}}, "code_interpreter"),
     ({"type": "custom", "name": "apply_patch", "format": {"type": "text"}}, "custom")],
)  # fmt: skip
def test_hosted_tools_are_named_for_the_provider_to_carry_refuse_or_drop(raw, hosted):
    (tool,) = responses.parse({"model": "m", "input": "x", "tools": [raw]}).tools
    assert tool.hosted == hosted
    assert tool.options == {k: v for k, v in raw.items() if k != "type"}
    assert tool.name == raw.get("name", hosted)


@pytest.mark.parametrize("kind", [None, 3, ["function"]])
def test_a_tool_needs_a_type(kind):
    err = bad({"tools": [{"type": kind, "name": "x"}]})
    assert err.param == "tools[0].type"


def test_previous_response_id_is_refused_clearly():
    err = bad({"previous_response_id": "resp_123"})
    assert (err.param, err.code) == ("previous_response_id", "unsupported_parameter")
    assert "send the whole conversation in `input`" in err.message


def test_conversation_is_refused_clearly():
    err = bad({"conversation": "conv_1"})
    assert (err.param, err.code) == ("conversation", "unsupported_parameter")


def test_what_the_parse_carries_is_not_named_as_dropped():
    for adapter in KINDS.values():
        request = responses.parse({"model": "m", "input": "x", "instructions": "Be brief.",
                                   "text": {"format": {"type": "json_object"}}})  # fmt: skip
        request.drop_unsupported = True
        adapter.build(Upstream("http://up.test/v1", "k", "up"), request)
        assert "instructions" not in request.dropped and "text" not in request.dropped
