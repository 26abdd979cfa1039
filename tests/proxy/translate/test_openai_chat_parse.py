"""proxy.translate.shapes.openai_chat.parse: chat-completions bodies into the canonical
ChatRequest. It is the only check a translated body gets, so every field it reads is
type-checked: a wrong one is a 400 naming it, never another exception."""

import orjson
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
from proxy.translate.shapes import openai_chat
from tests.proxy.translate.sdk import sdk_body as captured

WEATHER = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
EPHEMERAL = {"type": "ephemeral"}


def sdk_body(**kwargs) -> dict:
    """The JSON body the openai SDK sends for chat.completions.create(**kwargs)."""
    return captured(lambda client: client.chat.completions.create(**kwargs))


def test_a_whole_tool_conversation_from_the_sdk():
    body = sdk_body(
        model="m",
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": [
                {"type": "text", "text": "Weather here?"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBO", "detail": "low"}},
                {"type": "image_url", "image_url": {"url": "https://img.test/a.png"}},
            ]},
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "weather", "arguments": '{"city":"Oslo"}'}},
                {"id": "c2", "type": "function", "function": {"name": "weather", "arguments": '{"city":"Rome"}'}},
            ]},
            {"role": "tool", "tool_call_id": "c1", "content": "cold"},
            {"role": "tool", "tool_call_id": "c2", "content": [{"type": "text", "text": "warm"}]},
            {"role": "developer", "content": "Now one line only."},
            {"role": "user", "content": "Summarise."},
        ],
        tools=[{"type": "function", "function": {"name": "weather", "description": "By city",
                                                 "parameters": WEATHER, "strict": True}}],
        tool_choice={"type": "function", "function": {"name": "weather"}},
        parallel_tool_calls=True, max_completion_tokens=50, temperature=0.3, top_p=0.8,
        stop="END", user="u-1", seed=5, stream=True, stream_options={"include_usage": True},
    )  # fmt: skip
    request = openai_chat.parse(body)
    assert request.messages == [
        Message("system", [TextPart("Be brief.")]),
        Message("user", [
            TextPart("Weather here?"),
            ImagePart(media_type="image/png", data="iVBO", detail="low"),
            ImagePart(url="https://img.test/a.png"),
        ]),
        Message("assistant", tool_calls=[
            ToolCall("c1", "weather", '{"city":"Oslo"}'), ToolCall("c2", "weather", '{"city":"Rome"}'),
        ]),
        Message("tool", [TextPart("cold")], tool_call_id="c1"),
        Message("tool", [TextPart("warm")], tool_call_id="c2"),
        Message("system", [TextPart("Now one line only.")]),  # in its place, not hoisted
        Message("user", [TextPart("Summarise.")]),
    ]  # fmt: skip
    assert request.tools == [Tool("weather", "By city", WEATHER, strict=True)]
    assert request.tool_choice == ToolChoice("tool", "weather")
    assert (request.parallel_tool_calls, request.max_tokens, request.stop) == (True, 50, ["END"])
    assert (request.stream, request.include_usage, request.user) == (True, True, "u-1")
    assert request.extra == {"seed": 5}


def test_text_parts_stay_apart_with_their_cache_breakpoints():
    request = openai_chat.parse({"model": "m", "messages": [
        {"role": "user", "content": [
            {"type": "text", "text": "A long document.", "cache_control": EPHEMERAL},
            {"type": "text", "text": "The question."},
        ]},
        {"role": "assistant", "content": [{"type": "refusal", "refusal": "No."}]},
        {"role": "tool", "tool_call_id": "c", "content": [
            {"type": "text", "text": "result", "cache_control": EPHEMERAL}]},
    ]})  # fmt: skip
    assert request.messages[0].content == [
        TextPart("A long document.", cache_control=EPHEMERAL),
        TextPart("The question."),
    ]
    assert request.messages[1].content == [TextPart("No.")]
    assert request.messages[2].cache_control == EPHEMERAL


def test_a_minimal_body():
    assert openai_chat.parse({"model": "m", "messages": [{"role": "user", "content": "hi"}]}) == (
        ChatRequest(model="m", messages=[Message("user", [TextPart("hi")])])
    )


def test_hosted_tools_and_web_search_options_are_named_for_the_provider():
    request = openai_chat.parse({
        "model": "m", "messages": [{"role": "user", "content": "news?"}],
        "tools": [{"type": "custom", "custom": {"name": "grammar", "format": {"type": "text"}}}],
        "web_search_options": {"search_context_size": "low"},
    })  # fmt: skip
    assert [(t.name, t.hosted) for t in request.tools] == [
        ("grammar", "custom"),
        ("web_search", "web_search"),
    ]
    assert request.tools[1].options == {"search_context_size": "low"}
    assert "web_search_options" not in request.extra


def test_a_string_image_url_and_text_response_format():
    request = openai_chat.parse({
        "model": "m", "response_format": {"type": "text"},
        "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": "https://i.test/x.png"}]}],
    })  # fmt: skip
    assert request.messages[0].content == [ImagePart(url="https://i.test/x.png")]
    assert request.response_format is None


def bad(fields: dict) -> ProxyError:
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], **fields}
    with pytest.raises(ProxyError) as caught:
        openai_chat.parse(body)
    assert caught.value.status == 400
    return caught.value


def one(message: dict) -> dict:
    return {"messages": [{"role": "user", "content": "hi"}, message]}


CALL = {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"model": None}, "model"), ({"model": 1}, "model"), ({"messages": None}, "messages"),
        ({"messages": "hi"}, "messages"), ({"messages": []}, "messages"),
        ({"messages": [None]}, "messages[0]"), ({"messages": ["hi"]}, "messages[0]"),
        ({"messages": [{"content": "x"}]}, "messages[0].role"),
        ({"messages": [{"role": 5, "content": "x"}]}, "messages[0].role"),
        ({"messages": [{"role": ["user"], "content": "x"}]}, "messages[0].role"),
        ({"messages": [{"role": "robot", "content": "x"}]}, "messages[0].role"),
        (one({"role": "user"}), "messages[1].content"),
        (one({"role": "user", "content": 5}), "messages[1].content"),
        (one({"role": "user", "content": {"text": "x"}}), "messages[1].content"),
        (one({"role": "user", "content": ["x"]}), "messages[1].content[0]"),
        (one({"role": "user", "content": [{"text": "x"}]}), "messages[1].content[0].type"),
        (one({"role": "user", "content": [{"type": 1}]}), "messages[1].content[0].type"),
        (one({"role": "user", "content": [{"type": "text"}]}), "messages[1].content[0].text"),
        (one({"role": "user", "content": [{"type": "text", "text": 1}]}),
         "messages[1].content[0].text"),
        (one({"role": "user", "content": [{"type": "text", "text": "x", "cache_control": "e"}]}),
         "messages[1].content[0].cache_control"),
        (one({"role": "user", "content": [{"type": "image_url"}]}),
         "messages[1].content[0].image_url"),
        (one({"role": "user", "content": [{"type": "image_url", "image_url": {"url": 3}}]}),
         "messages[1].content[0].image_url.url"),
        (one({"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "u", "detail": 1}}]}),
         "messages[1].content[0].image_url.detail"),
        (one({"role": "user", "content": [{"type": "input_audio"}]}),
         "messages[1].content[0].type"),
        (one({"role": "user", "content": [{"type": "video"}]}), "messages[1].content[0].type"),
        (one({"role": "user", "name": 3, "content": "x"}), "messages[1].name"),
        (one({"role": "assistant", "tool_calls": {}}), "messages[1].tool_calls"),
        (one({"role": "assistant", "tool_calls": ["c"]}), "messages[1].tool_calls[0]"),
        (one({"role": "assistant", "tool_calls": [{**CALL, "id": None}]}),
         "messages[1].tool_calls[0].id"),
        (one({"role": "assistant", "tool_calls": [{**CALL, "type": "custom"}]}),
         "messages[1].tool_calls[0].type"),
        (one({"role": "assistant", "tool_calls": [{**CALL, "function": "f"}]}),
         "messages[1].tool_calls[0].function"),
        (one({"role": "assistant", "tool_calls": [{**CALL, "function": {"arguments": "{}"}}]}),
         "messages[1].tool_calls[0].function.name"),
        (one({"role": "assistant", "tool_calls": [
            {**CALL, "function": {"name": "f", "arguments": {"a": 1}}}]}),
         "messages[1].tool_calls[0].function.arguments"),
        (one({"role": "tool", "content": "x"}), "messages[1].tool_call_id"),
        (one({"role": "tool", "content": "x", "tool_call_id": 7}), "messages[1].tool_call_id"),
        ({"temperature": "hot"}, "temperature"), ({"temperature": True}, "temperature"),
        ({"top_p": [1]}, "top_p"), ({"max_tokens": 1.5}, "max_tokens"),
        ({"max_tokens": 0}, "max_tokens"), ({"max_completion_tokens": "9"}, "max_completion_tokens"),
        ({"n": 0}, "n"), ({"n": "2"}, "n"), ({"stop": 5}, "stop"), ({"stop": ["a", 1]}, "stop[1]"),
        ({"stream": "yes"}, "stream"), ({"stream_options": []}, "stream_options"),
        ({"stream_options": {"include_usage": "yes"}}, "stream_options.include_usage"),
        ({"user": 1}, "user"), ({"seed": "7"}, "seed"), ({"metadata": {"k": 1}}, "metadata.k"),
        ({"parallel_tool_calls": "no"}, "parallel_tool_calls"),
        ({"tools": {}}, "tools"), ({"tools": ["f"]}, "tools[0]"),
        ({"tools": [{"type": 1}]}, "tools[0].type"),
        ({"tools": [{"type": "function"}]}, "tools[0].function"),
        ({"tools": [{"type": "function", "function": {}}]}, "tools[0].function.name"),
        ({"tools": [{"type": "function", "function": {"name": ""}}]}, "tools[0].function.name"),
        ({"tools": [{"type": "function", "function": {"name": "f", "parameters": []}}]},
         "tools[0].function.parameters"),
        ({"tools": [{"type": "function", "function": {"name": "f", "strict": "yes"}}]},
         "tools[0].function.strict"),
        ({"tools": [{"type": "function", "function": {"name": "f", "description": 1}}]},
         "tools[0].function.description"),
        ({"tool_choice": "any"}, "tool_choice"), ({"tool_choice": 1}, "tool_choice"),
        ({"tool_choice": ["auto"]}, "tool_choice"),
        ({"tool_choice": {"type": "function"}}, "tool_choice.function"),
        ({"tool_choice": {"type": "function", "function": {"name": 1}}},
         "tool_choice.function.name"),
        ({"tool_choice": {"type": "allowed_tools"}}, "tool_choice.type"),
        ({"response_format": "json"}, "response_format"),
        ({"response_format": {}}, "response_format.type"),
        ({"response_format": {"type": "yaml"}}, "response_format.type"),
        ({"response_format": {"type": "json_schema"}}, "response_format.json_schema"),
        ({"response_format": {"type": "json_schema", "json_schema": {"schema": {}}}},
         "response_format.json_schema.name"),
        ({"response_format": {"type": "json_schema", "json_schema": {"name": "n", "schema": 1}}},
         "response_format.json_schema.schema"),
        ({"functions": [{"name": "f"}]}, "functions"), ({"function_call": "auto"}, "function_call"),
        ({"web_search_options": True}, "web_search_options"),
    ],
)  # fmt: skip
def test_invalid_fields_are_400s_naming_them(fields, param):
    err = bad(fields)
    assert err.param == param
    assert param in err.message or param.rsplit(".", 1)[-1] in err.message
    assert orjson.loads(err.body())["error"]["param"] == param


def test_a_huge_value_is_not_repeated_in_the_message():
    err = bad({"messages": [{"role": "x" * 100_000, "content": "hi"}]})
    assert err.param == "messages[0].role" and len(err.message) < 200
