"""What coding agents send to /v1/messages, in canonical form: system turns inside the
conversation, system blocks one part each, cache breakpoints, strict and server tools,
advice kept by name; and a parser that answers any malformed body with a 400 naming the
field, never another exception."""

import copy
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from proxy.translate.canonical import ImagePart, Message, TextPart, Tool, ToolCall
from proxy.translate.errors import ProxyError
from proxy.translate.shapes import anthropic as shape

EPHEMERAL = {"type": "ephemeral"}
HOUR = {"type": "ephemeral", "ttl": "1h"}
PNG = "iVBORw0KGgo="
CLAUDE_CODE = json.loads((Path(__file__).parent / "fixtures/claude_code_messages.json").read_text())


def body(**fields) -> dict:
    return {
        "model": "m",
        "max_tokens": 5,
        "messages": [{"role": "user", "content": "hi"}],
        **fields,
    }


def test_system_blocks_stay_apart_with_their_breakpoints() -> None:
    system = [{"type": "text", "text": "billing: x;"},
              {"type": "text", "text": "You are an agent.", "cache_control": EPHEMERAL},
              {"type": "text", "text": "Be brief.", "cache_control": HOUR}]  # fmt: skip
    assert shape.parse(body(system=system)).messages[0] == Message(
        "system",
        [TextPart("billing: x;"), TextPart("You are an agent.", EPHEMERAL),
         TextPart("Be brief.", HOUR)],
    )  # fmt: skip


def test_system_turns_inside_messages_keep_their_place() -> None:
    messages = [
        {"role": "user", "content": "hi"},
        {"role": "system", "content": [{"type": "text", "text": "env", "cache_control": EPHEMERAL}]},
        {"role": "assistant", "content": "ok"},
        {"role": "system", "content": "later"},
    ]  # fmt: skip
    request = shape.parse(body(system="first", messages=messages))
    assert [(m.role, m.content) for m in request.messages] == [
        ("system", [TextPart("first")]),
        ("user", [TextPart("hi")]),
        ("system", [TextPart("env", EPHEMERAL)]),
        ("assistant", [TextPart("ok")]),
        ("system", [TextPart("later")]),
    ]


def test_cache_control_on_blocks_and_tools_is_kept() -> None:
    messages = [
        {"role": "user", "content": [
            {"type": "text", "text": "look", "cache_control": EPHEMERAL},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG},
             "cache_control": HOUR},
        ]},
        {"role": "assistant", "content": [
            {"type": "tool_use", "id": "t1", "name": "f", "input": {"a": 1}, "cache_control": EPHEMERAL},
        ]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "t1", "cache_control": EPHEMERAL,
             "content": [{"type": "text", "text": "r", "cache_control": HOUR}]},
        ]},
    ]  # fmt: skip
    tools = [{"name": "f", "input_schema": {"type": "object"}, "cache_control": EPHEMERAL}]
    request = shape.parse(body(messages=messages, tools=tools))
    assert request.messages == [
        Message("user", [TextPart("look", EPHEMERAL),
                         ImagePart(media_type="image/png", data=PNG, cache_control=HOUR)]),
        Message("assistant", tool_calls=[ToolCall("t1", "f", '{"a":1}')]),
        Message("tool", [TextPart("r", HOUR)], tool_call_id="t1", cache_control=EPHEMERAL),
    ]  # fmt: skip
    assert request.tools == [Tool("f", None, {"type": "object"}, cache_control=EPHEMERAL)]
    # a breakpoint on a tool_use block has no canonical place: named as set aside
    assert request.extra == {"messages.cache_control": ["messages.1.content.0.cache_control"]}


def test_strict_server_and_deferred_tools() -> None:
    tools = [
        {"name": "f", "input_schema": {"type": "object"}, "strict": True},
        {"type": "custom", "name": "g", "description": "G", "input_schema": {"type": "object"},
         "defer_loading": True, "input_examples": [{"a": 1}]},
        {"type": "web_search_20250305", "name": "web_search", "max_uses": 5,
         "allowed_domains": ["a.test"], "user_location": {"type": "approximate", "city": "Oslo"}},
        {"type": "bash_20250124", "name": "bash"},
    ]  # fmt: skip
    request = shape.parse(body(tools=tools))
    assert request.tools == [
        Tool("f", None, {"type": "object"}, strict=True),
        Tool("g", "G", {"type": "object"}),
        Tool("web_search", hosted="web_search", options={
            "max_uses": 5, "allowed_domains": ["a.test"],
            "user_location": {"type": "approximate", "city": "Oslo"}}),
        Tool("bash", hosted="bash"),
    ]  # fmt: skip
    assert request.extra == {
        "tools.defer_loading": ["tools.1.defer_loading"],
        "tools.input_examples": ["tools.1.input_examples"],
    }


def test_advice_stays_in_extra_and_structured_output_becomes_response_format() -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}}
    request = shape.parse(
        body(
            thinking={"type": "adaptive", "display": "omitted"},
            context_management={"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]},
            output_config={"effort": "high", "format": {"type": "json_schema", "schema": schema}},
            metadata={"user_id": "u", "trace": "t"},
            top_k=4,
        )
    )
    assert request.user == "u"
    assert request.response_format == {
        "type": "json_schema",
        "json_schema": {"name": "output", "schema": schema},
    }
    assert request.extra == {
        "thinking": {"type": "adaptive", "display": "omitted"},
        "context_management": {"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]},
        "output_config": {"effort": "high"},
        "metadata": {"trace": "t"},
        "top_k": 4,
    }
    legacy = shape.parse(body(output_format={"type": "json_schema", "schema": schema}))
    assert legacy.response_format == request.response_format and legacy.extra == {}


def test_an_assistant_turn_with_server_tool_blocks_and_thinking() -> None:
    turn = {"role": "assistant", "content": [
        {"type": "thinking", "thinking": "hm", "signature": "s"},
        {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {"query": "q"}},
        {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_1", "content": []},
        {"type": "text", "text": "Found it."},
    ]}  # fmt: skip
    request = shape.parse(body(messages=[{"role": "user", "content": "q"}, turn]))
    assert request.messages[-1] == Message("assistant", [TextPart("Found it.")])
    assert request.extra == {
        "messages.thinking": ["messages.1.content.0"],
        "messages.server_tool_use": ["messages.1.content.1"],
        "messages.web_search_tool_result": ["messages.1.content.2"],
    }


def test_tool_search_references_in_a_result_read_as_text() -> None:
    result = {"type": "tool_result", "tool_use_id": "t1",
              "content": [{"type": "tool_reference", "tool_name": "Read"}]}  # fmt: skip
    messages = [{"role": "user", "content": "q"},
                {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "ToolSearch", "input": {}}]},
                {"role": "user", "content": [result]}]  # fmt: skip
    assert shape.parse(body(messages=messages)).messages[-1].content == [
        TextPart("Tool available: Read")
    ]


def test_claude_code_tool_loop_parses_in_order_with_its_tools() -> None:
    second = CLAUDE_CODE["second"]
    request = shape.parse(second)
    assert [m.role for m in request.messages] == ["system", "user", "system", "assistant", "tool"]
    system = request.messages[0]
    assert [p.text for p in system.content] == [b["text"] for b in second["system"]]
    assert [p.cache_control for p in system.content] == [None, EPHEMERAL, EPHEMERAL]
    assert request.messages[1].content == [
        TextPart(b["text"]) for b in second["messages"][0]["content"]
    ]
    assert request.messages[2].content == [TextPart(second["messages"][1]["content"])]
    assert request.messages[3].tool_calls == [ToolCall("toolu_0001", "jinf_missing_tool", "{}")]
    result = request.messages[4]
    assert (result.tool_call_id, result.is_error, result.cache_control) == (
        "toolu_0001", True, EPHEMERAL
    )  # fmt: skip
    assert [t.name for t in request.tools] == [t["name"] for t in second["tools"]]
    assert [t.parameters for t in request.tools] == [t["input_schema"] for t in second["tools"]]
    assert [t.description for t in request.tools] == [t["description"] for t in second["tools"]]
    assert all(t.hosted is None for t in request.tools)
    assert request.user == second["metadata"]["user_id"]
    assert (request.stream, request.max_tokens) == (True, 32000)
    assert request.extra == {
        "thinking": second["thinking"],
        "context_management": second["context_management"],
        "output_config": second["output_config"],
        "tools.defer_loading": ["tools.10.defer_loading"],
    }
    first = shape.parse(
        {**second, **CLAUDE_CODE["first"]}
    )  # its conversation ends in a system turn
    assert [m.role for m in first.messages] == ["system", "user", "system"]
    assert first.messages[-1].content[0].cache_control == EPHEMERAL


# --- Refusals ------------------------------------------------------------------------

USER = {"role": "user", "content": "hi"}


def user(*blocks) -> dict:
    return {"messages": [{"role": "user", "content": list(blocks)}]}


def assistant(*blocks) -> dict:
    return {"messages": [USER, {"role": "assistant", "content": list(blocks)}]}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (user("text"), "messages.0.content.0"),
        (user({"text": "x"}), "messages.0.content.0.type"),
        (user({"type": ["text"]}), "messages.0.content.0.type"),
        (user({"type": "text", "text": "x", "cache_control": "ephemeral"}),
         "messages.0.content.0.cache_control"),
        (user({"type": "text", "text": "x", "cache_control": {"ttl": "1h"}}),
         "messages.0.content.0.cache_control.type"),
        (user({"type": "image"}), "messages.0.content.0.source"),
        (user({"type": "image", "source": []}), "messages.0.content.0.source"),
        (user({"type": "image", "source": {"type": "file", "file_id": "f"}}),
         "messages.0.content.0.source.type"),
        (user({"type": "image", "source": {"type": "base64", "media_type": 1, "data": "x"}}),
         "messages.0.content.0.source.media_type"),
        (user({"type": "image", "source": {"type": "base64", "media_type": "image/png"}}),
         "messages.0.content.0.source.data"),
        (user({"type": "image", "source": {"type": "url", "url": {"u": 1}}}),
         "messages.0.content.0.source.url"),
        (user({"type": "document", "source": {}}), "messages.0.content.0.type"),
        (user({"type": "tool_result", "tool_use_id": 5}), "messages.0.content.0.tool_use_id"),
        (user({"type": "tool_result", "tool_use_id": "t", "is_error": "yes"}),
         "messages.0.content.0.is_error"),
        (user({"type": "tool_result", "tool_use_id": "t", "content": {"a": 1}}),
         "messages.0.content.0.content"),
        (user({"type": "tool_result", "tool_use_id": "t", "content": [5]}),
         "messages.0.content.0.content.0"),
        (user({"type": "tool_result", "tool_use_id": "t", "content": [{"type": "text", "text": None}]}),
         "messages.0.content.0.content.0.text"),
        (user({"type": "tool_result", "tool_use_id": "t", "content": [{"type": "tool_reference"}]}),
         "messages.0.content.0.content.0.tool_name"),
        (user({"type": "thinking", "thinking": "x"}), "messages.0.content.0.type"),
        (assistant({"type": "tool_use", "name": "f", "input": {}}), "messages.1.content.0.id"),
        (assistant({"type": "tool_use", "id": "t", "name": 3, "input": {}}), "messages.1.content.0.name"),
        (assistant({"type": "tool_use", "id": "t", "name": "f", "input": "{}"}),
         "messages.1.content.0.input"),
        (assistant({"type": "tool_result", "tool_use_id": "t"}), "messages.1.content.0.type"),
        ({"messages": [USER, None]}, "messages.1"),
        ({"messages": [USER, {"role": ["user"], "content": "x"}]}, "messages.1.role"),
        ({"messages": [{"role": "system", "content": 3}]}, "messages.0.content"),
        ({"messages": [{"role": "system", "content": [{"type": "text", "text": 3}]}]},
         "messages.0.content.0.text"),
        ({"system": [{"type": "image"}]}, "system.0.type"),
        ({"system": ["plain"]}, "system.0"),
        ({"system": [{"type": "text", "text": "s", "cache_control": []}]}, "system.0.cache_control"),
        ({"tools": [None]}, "tools.0"),
        ({"tools": [{"name": "f", "input_schema": {}, "strict": "yes"}]}, "tools.0.strict"),
        ({"tools": [{"name": "f", "input_schema": {}, "description": 1}]}, "tools.0.description"),
        ({"tools": [{"name": "f", "input_schema": []}]}, "tools.0.input_schema"),
        ({"tools": [{"name": "f", "input_schema": {}, "cache_control": 1}]}, "tools.0.cache_control"),
        ({"tools": [{"type": 5, "name": "f"}]}, "tools.0.type"),
        ({"tools": [{"type": "web_search_20250305", "name": 5}]}, "tools.0.name"),
        ({"tool_choice": {"type": "tool", "name": 5}}, "tool_choice.name"),
        ({"tool_choice": {"type": ["auto"]}}, "tool_choice"),
        ({"tool_choice": {"type": "auto", "disable_parallel_tool_use": "no"}},
         "tool_choice.disable_parallel_tool_use"),
        ({"metadata": "u"}, "metadata"),
        ({"metadata": {"user_id": 5}}, "metadata.user_id"),
        ({"top_p": [1]}, "top_p"),
        ({"top_k": 1.5}, "top_k"),
        ({"thinking": "adaptive"}, "thinking"),
        ({"context_management": []}, "context_management"),
        ({"output_config": "high"}, "output_config"),
        ({"output_config": {"format": "json"}}, "output_config.format"),
        ({"output_config": {"format": {"type": "json_object"}}}, "output_config.format.type"),
        ({"output_config": {"format": {"type": "json_schema"}}}, "output_config.format.schema"),
        ({"output_format": {"type": "json_schema", "schema": 1}}, "output_format.schema"),
    ],
)  # fmt: skip
def test_wrong_types_anywhere_name_their_field(change: dict, field: str) -> None:
    with pytest.raises(ProxyError) as caught:
        shape.parse(body(**change))
    assert caught.value.status == 400
    assert caught.value.param == field
    assert caught.value.message.startswith(f"{field}: ")


def test_a_body_that_is_not_an_object() -> None:
    for bad in (None, [], "x", 3):
        with pytest.raises(ProxyError) as caught:
            shape.parse(bad)  # type: ignore[arg-type]
        assert caught.value.status == 400


def nested(depth: int, leaf: object) -> object:
    for _ in range(depth):
        leaf = {"a": [leaf]}
    return leaf


@pytest.mark.parametrize("depth", [10, 300, 600])
def test_deep_tool_input_and_schemas_do_not_crash(depth: int) -> None:
    messages = [USER, {"role": "assistant", "content": [
        {"type": "tool_use", "id": "t", "name": "f", "input": nested(depth, 1)}]}]  # fmt: skip
    tools = [{"name": "f", "input_schema": nested(depth, {"type": "string"})}]
    try:
        request = shape.parse(body(messages=messages, tools=tools))
    except ProxyError as exc:  # past what any encoder writes: a 400 naming the input
        assert exc.status == 400 and exc.param == "messages.1.content.0.input"
    else:
        call = request.messages[-1].tool_calls[0]
        assert json.loads(call.arguments) == nested(depth, 1)
        assert request.tools[0].parameters == tools[0]["input_schema"]


# --- Any value anywhere: a 400 naming a field, or a parse ---------------------------

RICH = {
    "model": "m", "max_tokens": 9, "stream": True, "temperature": 0.5, "top_p": 0.9, "top_k": 3,
    "stop_sequences": ["END"], "metadata": {"user_id": "u"}, "thinking": {"type": "adaptive"},
    "output_config": {"effort": "high", "format": {"type": "json_schema", "schema": {}}},
    "system": [{"type": "text", "text": "s", "cache_control": EPHEMERAL}],
    "messages": [
        {"role": "user", "content": [
            {"type": "text", "text": "q"},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
            {"type": "image", "source": {"type": "url", "url": "https://x.test/a.png"}}]},
        {"role": "system", "content": [{"type": "text", "text": "mid"}]},
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": "t", "signature": "s"},
            {"type": "text", "text": "a"},
            {"type": "tool_use", "id": "t1", "name": "f", "input": {"x": [1, {"y": None}]}}]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "t1", "is_error": False,
             "cache_control": EPHEMERAL,
             "content": [{"type": "text", "text": "r"}, {"type": "tool_reference", "tool_name": "g"}]},
            {"type": "text", "text": "more"}]},
    ],
    "tools": [
        {"name": "f", "description": "d", "input_schema": {"type": "object"}, "strict": True,
         "cache_control": EPHEMERAL, "defer_loading": True},
        {"type": "web_search_20250305", "name": "web_search", "max_uses": 2},
    ],
    "tool_choice": {"type": "tool", "name": "f", "disable_parallel_tool_use": True},
}  # fmt: skip


def paths(value: object, at: tuple = ()) -> list[tuple]:
    out = [at] if at else []
    if isinstance(value, dict):
        for k, v in value.items():
            out += paths(v, (*at, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += paths(v, (*at, i))
    return out


PATHS = paths(RICH)
LEAVES = (
    st.none() | st.booleans() | st.integers(-3, 10**20) | st.floats(allow_nan=False)
    | st.text(max_size=4) | st.sampled_from(["text", "image", "tool_use", "tool_result",
                                             "base64", "url", "system", "tool", "custom"])
)  # fmt: skip
VALUES = st.recursive(
    LEAVES,
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.sampled_from(["type", "text", "name", "source", "content", "id"]), inner,
                      max_size=3),
    max_leaves=8,
)  # fmt: skip


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(PATHS), VALUES, st.booleans()), min_size=1, max_size=3))
def test_any_change_anywhere_is_a_named_400_or_a_parse(changes) -> None:
    raw = copy.deepcopy(RICH)
    for path, value, delete in changes:
        parent = raw
        try:
            for key in path[:-1]:
                parent = parent[key]
            if delete and isinstance(parent, dict):
                parent.pop(path[-1], None)
            else:
                parent[path[-1]] = value
        except (KeyError, IndexError, TypeError):
            continue  # an earlier change moved this path away
    try:
        shape.parse(raw)
    except ProxyError as exc:
        assert exc.status == 400
        assert exc.param is not None and exc.message.startswith(f"{exc.param}: ")
        assert str(exc.param).split(".")[0] in RICH
