import json

import httpx
import openai
import pytest

from sandbox import SandboxServer
from tests.sandbox.test_faults import is_dropped_connection

LOOK = {
    "type": "function",
    "name": "look",
    "description": "Look something up",
    "parameters": {
        "type": "object",
        "properties": {"q": {"type": "string"}, "limit": {"type": "integer"}},
        "required": ["q", "limit"],
    },
    "strict": True,
}
CRM = {
    "type": "namespace",
    "name": "crm",
    "description": "The customer records",
    "tools": [{"type": "function", "name": "find_customer", "parameters": {"type": "object"}}],
}
# What an agent such as Codex CLI sends besides function tools.
OTHER_TOOLS = [
    {"type": "web_search"},
    {"type": "web_search_preview", "search_context_size": "low"},
    {"type": "custom", "name": "apply_patch", "format": {"type": "grammar", "syntax": "lark"}},
    {"type": "local_shell"},
    {"type": "mcp", "server_label": "docs", "server_url": "https://example.test/mcp"},
    {"type": "file_search", "vector_store_ids": ["vs_1"]},
    {"type": "image_generation"},
    {"type": "tool_search"},
]
HEADERS = {"authorization": "Bearer k"}


def events_on_the_wire(sandbox: SandboxServer, body: dict) -> list[tuple[str, dict]]:
    with httpx.stream(
        "POST", sandbox.url + "/v1/responses", json={**body, "stream": True}, headers=HEADERS
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        frames = response.read().decode().split("\n\n")
    assert frames[-1] == ""
    events = []
    for frame in frames[:-1]:
        name, data = frame.split("\n")
        payload = json.loads(data.removeprefix("data: "))
        assert name == "event: " + payload["type"]
        events.append((payload["type"], payload))
    return events


def test_create_text(oai: openai.OpenAI) -> None:
    response = oai.responses.create(
        model="demo@cached=2", input="hi there", instructions="be brief", temperature=0.5
    )
    assert response.id.startswith("resp_")
    assert response.object == "response"
    assert response.status == "completed"
    assert response.model == "demo@cached=2"
    assert response.instructions == "be brief" and response.temperature == 0.5
    assert response.output_text == "Hello from the sandbox. You said: hi there"
    [message] = response.output
    assert message.type == "message" and message.role == "assistant"
    assert message.status == "completed" and message.id.startswith("msg_")
    assert [part.type for part in message.content] == ["output_text"]
    # 2 words of instructions, 3 + 2 for the message, 2 cached.
    usage = response.usage
    assert (usage.input_tokens, usage.output_tokens, usage.total_tokens) == (9, 8, 17)
    assert usage.input_tokens_details.cached_tokens == 2
    assert usage.output_tokens_details.reasoning_tokens == 0
    assert response.error is None and response.incomplete_details is None
    assert response.tools == [] and response.tool_choice == "auto"


def test_same_text_and_tokens_as_chat(oai: openai.OpenAI) -> None:
    chat = oai.chat.completions.create(
        model="demo", messages=[{"role": "user", "content": "what is this"}]
    )
    response = oai.responses.create(model="demo", input="what is this")
    assert response.output_text == chat.choices[0].message.content
    assert response.usage.input_tokens == chat.usage.prompt_tokens
    assert response.usage.output_tokens == chat.usage.completion_tokens


def test_stream_reassembles_to_the_same_response(oai: openai.OpenAI) -> None:
    kwargs = {"model": "demo@chunks=5,cached=1", "input": "hi there"}
    plain = oai.responses.create(**kwargs)
    with oai.responses.stream(**kwargs) as stream:
        deltas = [e.delta for e in stream if e.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert len(deltas) == 5
    assert "".join(deltas) == final.output_text == plain.output_text
    assert final.status == "completed"
    assert final.usage.model_dump() == plain.usage.model_dump()


def test_text_event_sequence_on_the_wire(sandbox: SandboxServer) -> None:
    events = events_on_the_wire(sandbox, {"model": "demo@chunks=2", "input": "hi there"})
    assert [kind for kind, _ in events] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    data = [payload for _, payload in events]
    assert [d["sequence_number"] for d in data] == list(range(len(data)))
    created, completed = data[0]["response"], data[-1]["response"]
    assert created["status"] == "in_progress" and created["output"] == []
    assert created["usage"] is None and created["id"] == completed["id"]
    assert data[2]["item"]["status"] == "in_progress" and data[2]["item"]["content"] == []
    item_id = data[2]["item"]["id"]
    text = data[4]["delta"] + data[5]["delta"]
    assert all(d["item_id"] == item_id and d["output_index"] == 0 for d in data[3:8])
    assert all(d["content_index"] == 0 for d in data[3:8])
    assert data[3]["part"] == {"type": "output_text", "annotations": [], "logprobs": [], "text": ""}
    assert all(d["logprobs"] == [] and d["obfuscation"] for d in data[4:6])
    assert data[6]["text"] == data[7]["part"]["text"] == text
    assert data[8]["item"]["status"] == "completed"
    assert data[8]["item"]["content"][0]["text"] == text
    assert completed["status"] == "completed" and completed["output"] == [data[8]["item"]]
    assert completed["usage"]["output_tokens"] == 8


def test_obfuscation_can_be_turned_off(sandbox: SandboxServer) -> None:
    body = {"model": "demo", "input": "hi", "stream_options": {"include_obfuscation": False}}
    deltas = [p for k, p in events_on_the_wire(sandbox, body) if k.endswith(".delta")]
    assert deltas and all("obfuscation" not in d for d in deltas)


def test_function_call_streamed_and_not_agree(oai: openai.OpenAI, sandbox: SandboxServer) -> None:
    kwargs = {"model": "demo@chunks=4", "input": "find it", "tools": [LOOK, *OTHER_TOOLS]}
    plain = oai.responses.create(**kwargs)
    with oai.responses.stream(**kwargs) as stream:
        fragments = [e.delta for e in stream if e.type == "response.function_call_arguments.delta"]
        final = stream.get_final_response()

    expected = {"q": "sandbox", "limit": 42}
    for response in (plain, final):
        assert response.status == "completed"
        [call] = response.output
        assert call.type == "function_call" and call.name == "look"
        assert call.call_id.startswith("call_") and call.id.startswith("fc_")
        assert call.status == "completed"
        assert json.loads(call.arguments) == expected
    assert final.output[0].parsed_arguments == expected  # the SDK parses strict tools' arguments
    assert len(fragments) == 4 and "".join(fragments) == plain.output[0].arguments
    assert final.usage.model_dump() == plain.usage.model_dump()
    assert plain.usage.output_tokens > 0
    assert [t.type for t in plain.tools] == [t["type"] for t in kwargs["tools"]]

    events = events_on_the_wire(sandbox, kwargs)
    assert [kind for kind, _ in events] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        *["response.function_call_arguments.delta"] * 4,
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.completed",
    ]
    added, done = events[2][1]["item"], events[-2][1]["item"]
    assert added["status"] == "in_progress" and added["arguments"] == ""
    assert added["call_id"] == done["call_id"] and added["id"] == done["id"]
    assert events[-3][1]["arguments"] == done["arguments"]
    assert events[-3][1]["name"] == "look"


def test_only_function_tools_are_called(oai: openai.OpenAI, sandbox: SandboxServer) -> None:
    response = oai.responses.create(model="demo", input="hi", tools=OTHER_TOOLS)
    assert response.output_text.startswith("Hello from the sandbox")
    # A type no SDK knows yet is accepted too, and echoed as sent.
    unknown = {"type": "something_new", "whatever": {"nested": [1, 2]}}
    raw = httpx.post(
        sandbox.url + "/v1/responses",
        json={"model": "demo", "input": "hi", "tools": [unknown]},
        headers=HEADERS,
    )
    assert raw.status_code == 200 and raw.json()["tools"] == [unknown]
    namespaced = oai.responses.create(model="demo", input="hi", tools=[*OTHER_TOOLS, CRM])
    [call] = namespaced.output
    assert (call.name, call.namespace, call.arguments) == ("find_customer", "crm", "{}")


def test_tool_choice_and_parallel_calls(oai: openai.OpenAI) -> None:
    tools = [LOOK, CRM]
    both = oai.responses.create(model="demo@parallel=1", input="hi", tools=tools)
    assert [c.name for c in both.output] == ["look", "find_customer"]
    assert len({c.call_id for c in both.output}) == 2
    serial = oai.responses.create(
        model="demo@parallel=1", input="hi", tools=tools, parallel_tool_calls=False
    )
    assert [c.name for c in serial.output] == ["look"]
    named = oai.responses.create(
        model="demo",
        input="hi",
        tools=tools,
        tool_choice={"type": "function", "name": "find_customer"},
    )
    assert [c.name for c in named.output] == ["find_customer"]
    none = oai.responses.create(model="demo", input="hi", tools=tools, tool_choice="none")
    assert none.output[0].type == "message"
    with pytest.raises(openai.BadRequestError) as caught:
        oai.responses.create(
            model="demo", input="hi", tools=tools, tool_choice={"type": "function", "name": "x"}
        )
    assert caught.value.param == "tool_choice"


def test_input_items_of_every_kind(oai: openai.OpenAI) -> None:
    items = [
        {"role": "developer", "content": "be brief"},
        {
            "type": "message",
            "role": "user",
            "content": [
                {"type": "input_text", "text": "what is"},
                {"type": "input_image", "image_url": "data:image/png;base64,AAAA"},
                {"type": "input_text", "text": "this"},
            ],
        },
        {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "opaque"},
        {
            "type": "message",
            "role": "assistant",
            "content": [{"type": "output_text", "text": "a picture", "annotations": []}],
        },
        {"type": "item_reference", "id": "msg_1"},
        {"type": "web_search_call", "id": "ws_1", "status": "completed"},
        {"role": "user", "content": "and now?"},
    ]
    response = oai.responses.create(model="demo", input=items)
    assert response.output_text == "Hello from the sandbox. You said: and now?"
    # Messages: 3 + their words, an image 85; other items: the words of their JSON.
    others = sum(len(json.dumps(items[i]).split()) for i in (2, 4, 5))
    assert response.usage.input_tokens == 5 + (3 + 2 + 85 + 1) + 5 + 5 + others


def test_function_call_output_is_echoed(oai: openai.OpenAI) -> None:
    items = [
        {"role": "user", "content": "find it"},
        {"type": "function_call", "call_id": "call_1", "name": "look", "arguments": '{"q": "x"}'},
        {"type": "function_call_output", "call_id": "call_1", "output": "it is here"},
    ]
    response = oai.responses.create(model="demo", input=items, tools=[LOOK])
    assert response.output_text == "The tool returned: it is here"
    tools = len(json.dumps([LOOK]).split())
    assert response.usage.input_tokens == tools + (3 + 2) + (1 + 2) + 3
    parts = [{"type": "input_text", "text": "as parts"}]
    items[-1] = {"type": "function_call_output", "call_id": "call_1", "output": parts}
    # An instruction after the tool's output does not hide it.
    items.append({"role": "developer", "content": "answer in French"})
    again = oai.responses.create(model="demo", input=items, tools=[LOOK])
    assert again.output_text == "The tool returned: as parts"
    custom = [{"type": "custom_tool_call_output", "call_id": "c", "output": "patched"}]
    assert oai.responses.create(model="demo", input=custom).output_text.endswith("patched")


def test_structured_output(oai: openai.OpenAI) -> None:
    schema = {
        "type": "object",
        "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
        "required": ["name", "age"],
        "additionalProperties": False,
    }
    text = {"format": {"type": "json_schema", "name": "person", "schema": schema, "strict": True}}
    response = oai.responses.create(model="demo", input="who", text=text)
    assert json.loads(response.output_text) == {"name": "sandbox", "age": 42}
    assert response.text.format.type == "json_schema"
    as_json = oai.responses.create(
        model="demo", input="who", text={"format": {"type": "json_object"}}
    )
    assert json.loads(as_json.output_text)["answer"].startswith("Hello")


def test_max_output_tokens_leaves_the_response_incomplete(
    oai: openai.OpenAI, sandbox: SandboxServer
) -> None:
    words = " ".join(["word"] * 20)
    response = oai.responses.create(model="demo", input=words, max_output_tokens=16)
    assert response.status == "incomplete"
    assert response.incomplete_details.reason == "max_output_tokens"
    assert response.output[0].status == "incomplete"
    assert len(response.output_text.split()) == response.usage.output_tokens == 16
    events = events_on_the_wire(sandbox, {"model": "demo", "input": words, "max_output_tokens": 16})
    assert events[-1][0] == "response.incomplete"
    assert events[-1][1]["response"]["status"] == "incomplete"
    with pytest.raises(openai.BadRequestError) as caught:
        oai.responses.create(model="demo", input="hi", max_output_tokens=5)
    assert caught.value.code == "integer_below_min_value"


def test_validation_errors_use_openai_envelope(oai: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        oai.responses.create(model="demo", input=5)  # type: ignore[arg-type]
    assert caught.value.param == "input" and caught.value.code == "invalid_type"
    assert caught.value.body["message"].startswith("Invalid type for 'input'")
    with pytest.raises(openai.BadRequestError) as caught:
        oai.responses.create(model="demo", input=[{"role": "robot", "content": "hi"}])  # type: ignore[list-item]
    assert caught.value.param == "input[0].role"
    with pytest.raises(openai.BadRequestError) as caught:
        oai.responses.create(model="demo", input="hi", previous_response_id="resp_123")
    assert caught.value.code == "previous_response_not_found"
    with pytest.raises(openai.BadRequestError) as caught:
        oai.responses.create(model="demo", input="hi", tools=[{"name": "untyped"}])  # type: ignore[list-item]
    assert caught.value.param == "tools[0].type"
    assert set(caught.value.body) == {"message", "type", "param", "code"}


def test_faults_apply(oai: openai.OpenAI) -> None:
    with pytest.raises(openai.RateLimitError):
        oai.responses.create(model="demo@fault=429", input="hi")
    with pytest.raises(openai.APIConnectionError):
        oai.responses.create(model="demo@fault=drop", input="hi")
    with pytest.raises(json.JSONDecodeError):
        oai.responses.create(model="demo@fault=invalid_json", input="hi")
    received = []
    with pytest.raises(Exception) as caught:
        received.extend(oai.responses.create(model="demo@fault=drop", input="hi", stream=True))
    assert is_dropped_connection(caught.value)
    assert [e.type for e in received] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
    ]
    with pytest.raises(json.JSONDecodeError):
        list(oai.responses.create(model="demo@fault=invalid_json", input="hi", stream=True))


def test_stream_delay_applies(oai: openai.OpenAI, sandbox: SandboxServer) -> None:
    list(oai.responses.create(model="demo@chunks=3,delay_ms=20", input="hi", stream=True))
    record = sandbox.state.last("/v1/responses")
    assert record is not None and record["stream"] is True
    assert record["finished_at"] - record["started_at"] >= 0.02 * 8


def test_a_server_can_go_without_responses() -> None:
    with SandboxServer(responses=False) as server:
        response = httpx.post(
            server.url + "/v1/responses", json={"model": "demo", "input": "hi"}, headers=HEADERS
        )
        assert response.status_code == 404
        assert response.json()["error"]["type"] == "invalid_request_error"
        chat = httpx.post(
            server.url + "/v1/chat/completions",
            json={"model": "demo", "messages": [{"role": "user", "content": "hi"}]},
            headers=HEADERS,
        )
        assert chat.status_code == 200
