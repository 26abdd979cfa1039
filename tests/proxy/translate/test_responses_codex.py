"""Codex CLI's Responses bodies through the translation: its `namespace` tool flattened to
function tools every provider accepts and mapped back to the client's name and namespace,
whole and streamed; its hosted web search named for the provider; its developer messages
in order; its advice fields kept in `extra`."""

import json
import pathlib
import re

import orjson
import pytest
from openai.types.responses import Response, ResponseFunctionToolCall

from proxy.translate.canonical import (
    Answer,
    Cost,
    Finish,
    Start,
    TextPart,
    ToolCallDelta,
    ToolCallStart,
    Usage,
)
from proxy.translate.providers import KINDS
from proxy.translate.shapes import responses
from proxy.translate.sse import SSEDecoder
from proxy.translate.wire import Upstream

CAPTURE = pathlib.Path("/tmp/agent-captures/codex-probe1-2.json")
VALID_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
EMPTY = {"type": "object", "properties": {}, "required": [], "additionalProperties": False}
AGENT = {"type": "object", "properties": {"id": {"type": "string"}}, "required": ["id"]}


def fn(name: str, parameters: dict = EMPTY) -> dict:
    return {"type": "function", "name": name, "description": f"Does {name}.", "strict": False,
            "parameters": parameters}  # fmt: skip


# The shape of Codex 0.171's second request (trimmed: the real one is 40 kB).
CODEX = {
    "model": "agent-openai",
    "stream": True,
    "input": [
        {"type": "message", "id": "msg_1", "role": "developer",
         "content": [{"type": "input_text", "text": "You are a coding agent."}]},
        {"type": "message", "id": "msg_2", "role": "developer",
         "content": [{"type": "input_text", "text": "<skills_instructions>…"}]},
        {"type": "message", "id": "msg_3", "role": "user",
         "content": [{"type": "input_text", "text": "<environment_context>…"}]},
        {"type": "message", "id": "msg_4", "role": "user",
         "content": [{"type": "input_text", "text": "Close agent a1, then report."}]},
        {"type": "function_call", "status": "completed", "id": "fc_0001", "name": "close_agent",
         "namespace": "multi_agent_v1", "arguments": '{"id":"a1"}', "call_id": "call_0001"},
        {"type": "function_call_output", "id": "fco_1", "call_id": "call_0001",
         "output": "closed"},
        {"type": "message", "id": "msg_5", "role": "developer",
         "content": [{"type": "input_text", "text": "Mind the budget."}]},
    ],
    "tools": [
        fn("exec_command"),
        {"type": "namespace", "name": "multi_agent_v1",
         "description": "Tools for spawning and managing sub-agents.",
         "tools": [fn("close_agent", AGENT), fn("spawn_agent"), fn("wait_agent")]},
        fn("get_goal"),
        {"type": "web_search", "external_web_access": False},
    ],
    "tool_choice": "auto",
    "parallel_tool_calls": True,
    "reasoning": {"summary": "auto"},
    "store": False,
    "include": ["reasoning.encrypted_content"],
    "prompt_cache_key": "01a2331d",
    "client_metadata": {"thread_id": "01a2331d"},
    "text": {"verbosity": "low"},
    "service_tier": "auto",
}  # fmt: skip


def test_namespace_functions_become_provider_valid_function_tools():
    request = responses.parse(CODEX)
    names = [t.name for t in request.tools]
    assert names == [
        "exec_command", "multi_agent_v1__close_agent", "multi_agent_v1__spawn_agent",
        "multi_agent_v1__wait_agent", "get_goal", "web_search",
    ]  # fmt: skip
    close = request.tools[1]
    assert close.parameters == AGENT and close.hosted is None and close.strict is False
    assert close.description.startswith("multi_agent_v1: Tools for spawning")
    assert close.description.endswith("Does close_agent.")
    assert request.shape_state["names"]["multi_agent_v1__close_agent"] == {
        "namespace": "multi_agent_v1",
        "name": "close_agent",
    }
    search = request.tools[-1]
    assert (search.hosted, search.options) == ("web_search", {"external_web_access": False})


def test_developer_messages_are_system_messages_in_their_place():
    request = responses.parse(CODEX)
    assert [m.role for m in request.messages] == [
        "system", "system", "user", "user", "assistant", "tool", "system",
    ]  # fmt: skip
    assert request.messages[-1].content == [TextPart("Mind the budget.")]
    # The namespaced call in the history is the flattened tool's call.
    (call,) = request.messages[4].tool_calls
    assert (call.id, call.name) == ("call_0001", "multi_agent_v1__close_agent")


def test_advice_fields_stay_in_extra():
    extra = responses.parse(CODEX).extra
    for key in ("reasoning", "include", "store", "prompt_cache_key", "client_metadata",
                "text", "service_tier"):  # fmt: skip
        assert extra[key] == CODEX[key]


@pytest.mark.parametrize(
    ("namespace", "name"),
    [("crm", "x" * 64), ("my.tools", "look/up"), ("ns", "a b"), ("ñ", "é")],
)
def test_long_or_odd_names_still_flatten_to_valid_unique_names(namespace, name):
    body = {"model": "m", "input": "x", "tools": [
        {"type": "namespace", "name": namespace, "description": "d", "tools": [fn(name)]},
        {"type": "namespace", "name": namespace + "2", "description": "d", "tools": [fn(name)]},
    ]}  # fmt: skip
    request = responses.parse(body)
    flat = [t.name for t in request.tools]
    assert all(VALID_NAME.match(n) for n in flat) and len(set(flat)) == 2
    assert request.shape_state["names"][flat[0]] == {"namespace": namespace, "name": name}


def test_a_flattened_name_never_takes_a_plain_function_name():
    body = {"model": "m", "input": "x", "tools": [
        {"type": "namespace", "name": "a", "description": "d", "tools": [fn("b")]},
        fn("a__b"),
    ]}  # fmt: skip
    names = [t.name for t in responses.parse(body).tools]
    assert names[1] == "a__b" and names[0] != "a__b" and VALID_NAME.match(names[0])


def test_tool_choice_of_a_namespaced_function_is_its_flattened_name():
    body = {**CODEX, "tool_choice": {"type": "function", "name": "spawn_agent"}}
    assert responses.parse(body).tool_choice.name == "multi_agent_v1__spawn_agent"


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_provider_kind_gets_only_valid_function_names(kind):
    request = responses.parse(CODEX)
    request.tools = [t for t in request.tools if t.hosted is None]  # hosted: the kind's call
    built = KINDS[kind].build(Upstream("http://up.test/v1", "k", "up-model"), request)
    body = orjson.loads(built.body)
    sent = [t.get("name") or t["function"]["name"] for t in body["tools"]]
    assert "multi_agent_v1__close_agent" in sent
    assert all(VALID_NAME.match(n) for n in sent)


CALL = [
    Start("up-1", "up-model"),
    ToolCallStart(0, "call_9", "multi_agent_v1__close_agent"),
    ToolCallDelta(0, '{"id":'),
    ToolCallDelta(0, '"a2"}'),
    ToolCallStart(1, "call_10", "exec_command"),
    ToolCallDelta(1, "{}"),
    Finish("tool_calls"),
    Usage(10, 5),
]


def test_a_call_to_a_flattened_tool_renders_with_the_clients_name_and_namespace():
    request = responses.parse({**CODEX, "stream": False})
    body = responses.render(Answer.of(CALL), model="m", cost_usd=None, request=request)
    items = [i for i in Response.model_validate(body).output if i.type == "function_call"]
    assert [(i.name, i.namespace, i.call_id) for i in items] == [
        ("close_agent", "multi_agent_v1", "call_9"),
        ("exec_command", None, "call_10"),
    ]
    assert "namespace" not in body["output"][1]  # a plain call has no namespace at all
    # The Response object echoes the client's own tools, namespace and web search included.
    assert body["tools"] == CODEX["tools"]


def test_streamed_calls_carry_the_clients_name_and_namespace():
    request = responses.parse(CODEX)
    renderer = responses.stream_renderer(
        model="m", include_usage=True, price=lambda u: Cost(0, 0.0), request=request
    )
    wire = b"".join(renderer.render(e) for e in CALL) + renderer.end()
    events = [orjson.loads(data) for _, data in SSEDecoder().feed(wire)]
    added = [e["item"] for e in events if e["type"] == "response.output_item.added"]
    done = [e["item"] for e in events if e["type"] == "response.output_item.done"]
    for items in (added, done):
        calls = [ResponseFunctionToolCall.model_validate(i) for i in items]
        assert [(c.name, c.namespace) for c in calls] == [
            ("close_agent", "multi_agent_v1"),
            ("exec_command", None),
        ]
    (completed,) = [e for e in events if e["type"] == "response.completed"]
    final = Response.model_validate(completed["response"])
    assert [(i.name, i.namespace) for i in final.output] == [
        ("close_agent", "multi_agent_v1"),
        ("exec_command", None),
    ]


@pytest.mark.skipif(not CAPTURE.exists(), reason="the captured Codex body is not on this machine")
def test_the_captured_codex_body_parses():
    body = json.loads(CAPTURE.read_text())["body"]
    request = responses.parse(body)
    functions = [t.name for t in request.tools if t.hosted is None]
    assert all(VALID_NAME.match(n) for n in functions) and len(set(functions)) == len(functions)
    assert "multi_agent_v1__spawn_agent" in functions
    assert [t.hosted for t in request.tools if t.hosted] == ["web_search"]
    assert [m.role for m in request.messages][:2] == ["system", "system"]
