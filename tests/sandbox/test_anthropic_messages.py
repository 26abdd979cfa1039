import json

import anthropic
import httpx
import pytest

from sandbox import SandboxServer

HELLO = [{"role": "user", "content": "hi there"}]
WEATHER = {
    "name": "get_weather",
    "description": "Weather for a city",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
        "required": ["city", "days"],
    },
}
TIME = {"name": "get_time", "input_schema": {"type": "object", "properties": {}}}


def test_create_text(claude: anthropic.Anthropic, sandbox: SandboxServer) -> None:
    message = claude.messages.create(
        model="claude@cached=5", max_tokens=100, system="be brief", messages=HELLO
    )
    assert message.id.startswith("msg_")
    assert message.type == "message" and message.role == "assistant"
    assert message.model == "claude@cached=5"
    assert message.content[0].type == "text"
    assert message.content[0].text == "Hello from the sandbox. You said: hi there"
    assert message.stop_reason == "end_turn"
    assert message.stop_sequence is None
    assert message.usage.input_tokens == 2 + 3 + 2
    assert message.usage.output_tokens == 8
    assert message.usage.cache_read_input_tokens == 5
    assert message.usage.cache_creation_input_tokens == 0
    seen = sandbox.state.last_headers
    assert "sk-ant-test" in (seen.get("x-api-key") or seen.get("authorization", ""))
    assert sandbox.state.last_headers["anthropic-version"]


def test_stream_text_matches_create(claude: anthropic.Anthropic) -> None:
    kwargs = {"model": "claude@chunks=4,cached=5", "max_tokens": 100, "messages": HELLO}
    plain = claude.messages.create(**kwargs)
    with claude.messages.stream(**kwargs) as stream:
        types = [event.type for event in stream]
        final = stream.get_final_message()
    assert final.content[0].text == plain.content[0].text
    assert final.stop_reason == "end_turn"
    assert final.usage.model_dump() == plain.usage.model_dump()
    assert types.count("content_block_delta") == 4


def test_stream_event_sequence_on_the_wire(sandbox: SandboxServer) -> None:
    body = {"model": "claude@chunks=2", "max_tokens": 100, "messages": HELLO, "stream": True}
    headers = {"x-api-key": "k", "anthropic-version": "2023-06-01"}
    with httpx.stream("POST", sandbox.url + "/v1/messages", json=body, headers=headers) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        frames = r.read().decode().split("\n\n")
    assert frames[-1] == ""
    names = [frame.split("\n")[0] for frame in frames[:-1]]
    assert names == [
        "event: message_start",
        "event: content_block_start",
        "event: ping",
        "event: content_block_delta",
        "event: content_block_delta",
        "event: content_block_stop",
        "event: message_delta",
        "event: message_stop",
    ]
    data = [json.loads(frame.split("\n")[1].removeprefix("data: ")) for frame in frames[:-1]]
    assert data[0]["message"]["usage"]["input_tokens"] == 5
    assert data[6]["usage"] == {"output_tokens": 8}
    assert data[6]["delta"] == {"stop_reason": "end_turn", "stop_sequence": None}


def test_stream_tool_use_matches_create(claude: anthropic.Anthropic) -> None:
    kwargs = {"model": "claude@parallel=1", "max_tokens": 100, "messages": HELLO}
    plain = claude.messages.create(**kwargs, tools=[WEATHER, TIME])
    with claude.messages.stream(**kwargs, tools=[WEATHER, TIME]) as stream:
        final = stream.get_final_message()
    assert plain.stop_reason == final.stop_reason == "tool_use"
    assert [b.name for b in plain.content] == [b.name for b in final.content]
    assert [b.name for b in final.content] == ["get_weather", "get_time"]
    assert [b.input for b in final.content] == [{"city": "sandbox", "days": 42}, {}]
    assert [b.input for b in plain.content] == [b.input for b in final.content]
    assert all(b.id.startswith("toolu_") for b in final.content)
    assert final.usage.output_tokens == plain.usage.output_tokens > 0

    single = claude.messages.create(
        **kwargs,
        tools=[WEATHER, TIME],
        tool_choice={"type": "tool", "name": "get_time", "disable_parallel_tool_use": True},
    )
    assert [b.name for b in single.content] == ["get_time"]
    none = claude.messages.create(**kwargs, tools=[WEATHER], tool_choice={"type": "none"})
    assert none.content[0].type == "text"


def test_tool_result_echoed(claude: anthropic.Anthropic) -> None:
    messages = [
        *HELLO,
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "toolu_1", "name": "get_time", "input": {}}],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_1",
                    "content": [{"type": "text", "text": "noon"}],
                }
            ],
        },
    ]
    message = claude.messages.create(model="claude", max_tokens=50, messages=messages, tools=[TIME])
    assert message.content[0].text == "The tool returned: noon"
    assert message.stop_reason == "end_turn"


def test_stop_sequence_and_max_tokens(claude: anthropic.Anthropic) -> None:
    stopped = claude.messages.create(
        model="claude", max_tokens=100, messages=HELLO, stop_sequences=["You said"]
    )
    assert stopped.stop_reason == "stop_sequence"
    assert stopped.stop_sequence == "You said"
    assert stopped.content[0].text == "Hello from the sandbox. "
    with claude.messages.stream(
        model="claude", max_tokens=100, messages=HELLO, stop_sequences=["You said"]
    ) as stream:
        streamed = stream.get_final_message()
    assert streamed.stop_sequence == "You said"

    short = claude.messages.create(model="claude", max_tokens=2, messages=HELLO)
    assert short.stop_reason == "max_tokens"
    assert short.content[0].text == "Hello from"
    assert short.usage.output_tokens == 2


def test_count_tokens_matches_usage(claude: anthropic.Anthropic) -> None:
    kwargs = {"model": "claude@cached=4", "system": "be brief", "messages": HELLO}
    counted = claude.messages.count_tokens(**kwargs, tools=[WEATHER])
    usage = claude.messages.create(**kwargs, tools=[WEATHER], max_tokens=10).usage
    assert counted.input_tokens == usage.input_tokens + usage.cache_read_input_tokens


def test_validation_errors(claude: anthropic.Anthropic, sandbox: SandboxServer) -> None:
    response = httpx.post(
        sandbox.url + "/v1/messages",
        headers={"x-api-key": "k", "anthropic-version": "2023-06-01"},
        json={"model": "claude", "messages": HELLO},
    )
    assert response.status_code == 400
    assert response.json()["type"] == "error"
    assert response.json()["error"] == {
        "type": "invalid_request_error",
        "message": "max_tokens: Field required",
    }
    response = httpx.post(
        sandbox.url + "/v1/messages",
        headers={"x-api-key": "k"},
        json={"model": "claude", "max_tokens": 5, "messages": HELLO},
    )
    assert response.status_code == 400
    assert "anthropic-version" in response.json()["error"]["message"]
    response = httpx.post(sandbox.url + "/v1/messages", json={"model": "claude"})
    assert response.status_code == 401
    assert response.json()["error"]["type"] == "authentication_error"


def test_system_blocks_and_images_count(claude: anthropic.Anthropic) -> None:
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AA"}}
    message = claude.messages.create(
        model="claude",
        max_tokens=50,
        system=[{"type": "text", "text": "be very brief"}],
        messages=[{"role": "user", "content": [image, {"type": "text", "text": "what is it"}]}],
    )
    assert message.content[0].text == "Hello from the sandbox. You said: what is it"
    assert message.usage.input_tokens == 3 + 3 + 85 + 3


MID_SYSTEM = "mid-conversation-system-2026-04-07"
HEADERS = {"x-api-key": "k", "anthropic-version": "2023-06-01"}
WITH_SYSTEM = [
    {"role": "user", "content": "hi there"},
    {"role": "assistant", "content": "hello"},
    {"role": "system", "content": "From now on, be brief."},
    {"role": "user", "content": [{"type": "text", "text": "and now"}]},
]


def test_mid_conversation_system_needs_the_beta(
    claude: anthropic.Anthropic, sandbox: SandboxServer
) -> None:
    with pytest.raises(anthropic.BadRequestError) as caught:
        claude.messages.create(model="claude", max_tokens=50, messages=WITH_SYSTEM)
    assert caught.value.body["type"] == "error"
    assert caught.value.body["error"] == {
        "type": "invalid_request_error",
        "message": "messages.2.role: Input should be 'user' or 'assistant'",
    }
    response = httpx.post(
        sandbox.url + "/v1/messages/count_tokens",
        headers={**HEADERS, "anthropic-beta": "some-other-beta-2025-01-01"},
        json={"model": "claude", "messages": WITH_SYSTEM},
    )
    assert response.status_code == 400
    assert response.json()["error"]["message"].startswith("messages.2.role:")


def test_mid_conversation_system_with_the_beta(claude: anthropic.Anthropic) -> None:
    betas = f"fine-grained-tool-streaming-2025-05-14, {MID_SYSTEM}"
    message = claude.messages.create(
        model="claude",
        max_tokens=50,
        messages=WITH_SYSTEM,
        extra_headers={"anthropic-beta": betas},
    )
    assert message.content[0].text == "Hello from the sandbox. You said: and now"
    # 4 messages of 3, plus 2 + 1 + 5 + 2 words: the system message counts like any other.
    assert message.usage.input_tokens == 12 + 10
    counted = claude.beta.messages.count_tokens(
        model="claude", messages=WITH_SYSTEM, betas=[MID_SYSTEM]
    )
    assert counted.input_tokens == message.usage.input_tokens
    with claude.beta.messages.stream(
        model="claude", max_tokens=50, messages=WITH_SYSTEM, betas=[MID_SYSTEM]
    ) as stream:
        assert stream.get_final_message().content[0].text == message.content[0].text
    with pytest.raises(anthropic.BadRequestError) as caught:
        claude.beta.messages.create(
            model="claude",
            max_tokens=50,
            messages=[*WITH_SYSTEM, {"role": "tool", "content": "x"}],
            betas=[MID_SYSTEM],
        )
    assert caught.value.body["error"]["message"] == (
        "messages.4.role: Input should be 'user', 'assistant' or 'system'"
    )


def test_a_server_can_take_system_turns_without_the_beta() -> None:
    with SandboxServer(system_turns_need_beta=False) as server:
        client = anthropic.Anthropic(base_url=server.url, api_key="k", max_retries=0)
        message = client.messages.create(model="claude", max_tokens=50, messages=WITH_SYSTEM)
        assert message.content[0].text == "Hello from the sandbox. You said: and now"
        with pytest.raises(anthropic.BadRequestError) as caught:
            client.messages.create(
                model="claude", max_tokens=50, messages=[{"role": "tool", "content": "x"}]
            )
        assert caught.value.body["error"]["message"] == (
            "messages.0.role: Input should be 'user', 'assistant' or 'system'"
        )


def test_a_system_message_after_a_tool_result_keeps_it_the_last_turn(
    claude: anthropic.Anthropic,
) -> None:
    messages = [
        *HELLO,
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "toolu_1", "name": "get_time", "input": {}}],
        },
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "noon"}],
        },
        {"role": "system", "content": [{"type": "text", "text": "answer in French"}]},
    ]
    message = claude.beta.messages.create(
        model="claude", max_tokens=50, messages=messages, tools=[TIME], betas=[MID_SYSTEM]
    )
    assert message.content[0].text == "The tool returned: noon"


def test_server_tools_and_unknown_blocks_are_accepted(claude: anthropic.Anthropic) -> None:
    server_tools = [
        {"type": "web_search_20250305", "name": "web_search", "max_uses": 3},
        {"type": "web_fetch_20250910", "name": "web_fetch"},
        {"type": "code_execution_20250825", "name": "code_execution"},
        {"type": "bash_20250124", "name": "bash"},
        {"type": "mcp_toolset", "mcp_server_name": "docs"},
        {"type": "tool_from_the_future", "anything": [1, {"x": None}]},
    ]
    messages = [
        {"role": "user", "content": [{"type": "text", "text": "look it up"}]},
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "hmm", "signature": "sig"},
                {"type": "redacted_thinking", "data": "opaque"},
                {
                    "type": "server_tool_use",
                    "id": "srvtoolu_1",
                    "name": "web_search",
                    "input": {"query": "x"},
                },
                {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_1", "content": []},
                {"type": "block_from_the_future", "payload": {"deep": [1, 2]}},
                {"type": "text", "text": "found", "citations": None},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "thanks", "cache_control": {"type": "ephemeral"}},
                {"type": "document", "source": {"type": "text", "data": "d"}, "title": "t"},
                {"type": "search_result", "source": "s", "title": "t", "content": []},
            ],
        },
    ]
    message = claude.messages.create(
        model="claude", max_tokens=50, messages=messages, tools=server_tools
    )
    assert message.stop_reason == "end_turn"  # server tools are never called as client tools
    assert message.content[0].text == "Hello from the sandbox. You said: thanks"

    cached_tool = {**WEATHER, "cache_control": {"type": "ephemeral", "ttl": "1h"}}
    custom = {**TIME, "type": "custom"}
    called = claude.messages.create(
        model="claude@parallel=1",
        max_tokens=50,
        messages=messages,
        tools=[*server_tools, cached_tool, custom],
    )
    assert called.stop_reason == "tool_use"
    assert [b.name for b in called.content] == ["get_weather", "get_time"]


def test_output_config_output_format_and_thinking_are_accepted(
    claude: anthropic.Anthropic, sandbox: SandboxServer
) -> None:
    schema = {
        "type": "object",
        "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
        "required": ["name", "age"],
        "additionalProperties": False,
    }
    fmt = {"type": "json_schema", "schema": schema}
    bodies = [
        {"output_config": {"format": fmt, "effort": "low"}},
        {"output_format": fmt},
        {"output_config": {"format": fmt}, "thinking": {"type": "enabled", "budget_tokens": 1024}},
    ]
    for extra in bodies:
        response = httpx.post(
            sandbox.url + "/v1/messages",
            headers=HEADERS,
            json={"model": "claude", "max_tokens": 2000, "messages": HELLO, **extra},
        )
        assert response.status_code == 200, response.text
        assert json.loads(response.json()["content"][0]["text"]) == {"name": "sandbox", "age": 42}
    for thinking in ({"type": "adaptive"}, {"type": "disabled"}):
        plain = claude.messages.create(
            model="claude",
            max_tokens=50,
            messages=HELLO,
            thinking=thinking,  # type: ignore[arg-type]
            extra_body={"output_config": {"effort": "high"}},
        )
        assert plain.content[0].text == "Hello from the sandbox. You said: hi there"


def test_wrong_types_answer_400_in_anthropic_envelope(sandbox: SandboxServer) -> None:
    cases = [
        ({"tools": 5}, "tools: Input should be a valid list"),
        ({"tools": [{"name": "x"}]}, "tools.0.custom.input_schema: Field required"),
        ({"tool_choice": "auto"}, "tool_choice: Input should be a valid dictionary"),
        ({"messages": [{"role": "user", "content": 5}]}, "messages.0.content: Input should"),
        ({"messages": [{"role": "user", "content": [5]}]}, "messages.0.content.0: Input"),
        ({"system": 5}, "system: Input should be a valid list"),
        ({"thinking": "on"}, "thinking: Input should be a valid dictionary"),
        ({"stream": "yes"}, "stream: Input should be a valid boolean"),
    ]
    for extra, message in cases:
        body = {"model": "claude", "max_tokens": 10, "messages": HELLO, **extra}
        response = httpx.post(sandbox.url + "/v1/messages", headers=HEADERS, json=body)
        assert response.status_code == 400, (extra, response.text)
        payload = response.json()
        assert payload["type"] == "error" and payload["error"]["type"] == "invalid_request_error"
        assert payload["error"]["message"].startswith(message), (extra, payload)
