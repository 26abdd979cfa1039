import json

import openai
import pytest

from sandbox import SandboxServer

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "days": {"type": "integer"},
                "metric": {"type": "boolean"},
                "unit": {"type": "string", "enum": ["c", "f"]},
                "where": {
                    "type": "object",
                    "properties": {"lat": {"type": "number"}, "tags": {"type": "array"}},
                    "required": ["lat", "tags"],
                },
            },
            "required": ["city", "days", "metric", "where"],
        },
    },
}
TIME = {
    "type": "function",
    "function": {"name": "get_time", "parameters": {"type": "object", "properties": {}}},
}
HELLO = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi there"}]


def test_non_stream_answer_echoes_the_last_user_message(oai: openai.OpenAI) -> None:
    completion = oai.chat.completions.create(model="demo@cached=2", messages=HELLO)

    assert completion.id.startswith("chatcmpl-")
    assert completion.object == "chat.completion"
    assert completion.model == "demo@cached=2"
    assert completion.system_fingerprint
    choice = completion.choices[0]
    assert choice.message.content == "Hello from the sandbox. You said: hi there"
    assert choice.finish_reason == "stop"
    # 2 messages x 3 + 2 + 2 words, plus 2 cached tokens.
    assert completion.usage.prompt_tokens == 12
    assert completion.usage.completion_tokens == 8
    assert completion.usage.total_tokens == 20
    assert completion.usage.prompt_tokens_details.cached_tokens == 2


def test_content_parts_and_images(oai: openai.OpenAI) -> None:
    parts = [
        {"type": "text", "text": "what is"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
        {"type": "text", "text": "this"},
    ]
    completion = oai.chat.completions.create(
        model="demo", messages=[{"role": "user", "content": parts}]
    )
    assert completion.choices[0].message.content.endswith("You said: what is this")
    assert completion.usage.prompt_tokens == 3 + 3 + 85


def test_stream_reassembles_to_the_same_completion(oai: openai.OpenAI) -> None:
    plain = oai.chat.completions.create(model="demo@chunks=5", messages=HELLO)
    with oai.chat.completions.stream(
        model="demo@chunks=5", messages=HELLO, stream_options={"include_usage": True}
    ) as stream:
        chunks = [e.chunk for e in stream if e.type == "chunk"]
        final = stream.get_final_completion()

    assert final.choices[0].message.content == plain.choices[0].message.content
    assert final.choices[0].finish_reason == "stop"
    assert final.usage.model_dump() == plain.usage.model_dump()
    content = [c for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(content) == 5
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-1].choices == []
    assert all(c.usage is None for c in chunks[:-1])


def test_stream_without_include_usage_has_no_usage_key(
    oai: openai.OpenAI, sandbox: SandboxServer
) -> None:
    import httpx

    body = {"model": "demo", "messages": HELLO, "stream": True}
    with httpx.stream(
        "POST", sandbox.url + "/v1/chat/completions", json=body, headers={"authorization": "x"}
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in response.iter_lines() if line]
    assert lines[-1] == "data: [DONE]"
    events = [json.loads(line[6:]) for line in lines[:-1]]
    assert all("usage" not in e and e["choices"] for e in events)
    assert events[-1]["choices"][0]["finish_reason"] == "stop"


def test_tool_call_streamed_and_not_agree(oai: openai.OpenAI) -> None:
    kwargs = {"model": "demo@chunks=6", "messages": HELLO, "tools": [WEATHER, TIME]}
    plain = oai.chat.completions.create(**kwargs)
    with oai.chat.completions.stream(**kwargs, stream_options={"include_usage": True}) as s:
        argument_chunks = sum(
            1
            for e in s
            if e.type == "chunk"
            and e.chunk.choices
            and e.chunk.choices[0].delta.tool_calls
            and e.chunk.choices[0].delta.tool_calls[0].function.arguments
        )
        final = s.get_final_completion()

    [call] = plain.choices[0].message.tool_calls
    [streamed] = final.choices[0].message.tool_calls
    assert plain.choices[0].finish_reason == final.choices[0].finish_reason == "tool_calls"
    assert call.id.startswith("call_") and streamed.id.startswith("call_")
    assert call.function.name == streamed.function.name == "get_weather"
    expected = {"city": "sandbox", "days": 42, "metric": True, "where": {"lat": 42, "tags": []}}
    assert json.loads(call.function.arguments) == expected
    assert json.loads(streamed.function.arguments) == expected
    assert argument_chunks == 6
    assert final.usage.model_dump() == plain.usage.model_dump()
    assert plain.usage.completion_tokens > 0


def test_named_and_parallel_tool_choice(oai: openai.OpenAI) -> None:
    named = oai.chat.completions.create(
        model="demo@parallel=1",
        messages=HELLO,
        tools=[WEATHER, TIME],
        tool_choice={"type": "function", "function": {"name": "get_time"}},
    )
    assert [c.function.name for c in named.choices[0].message.tool_calls] == ["get_time"]

    both = oai.chat.completions.create(
        model="demo@parallel=1", messages=HELLO, tools=[WEATHER, TIME]
    )
    assert [c.function.name for c in both.choices[0].message.tool_calls] == [
        "get_weather",
        "get_time",
    ]
    serial = oai.chat.completions.create(
        model="demo@parallel=1", messages=HELLO, tools=[WEATHER, TIME], parallel_tool_calls=False
    )
    assert len(serial.choices[0].message.tool_calls) == 1
    none = oai.chat.completions.create(
        model="demo", messages=HELLO, tools=[WEATHER], tool_choice="none"
    )
    assert none.choices[0].message.tool_calls is None


def test_tool_result_is_echoed(oai: openai.OpenAI) -> None:
    messages = [
        *HELLO,
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_time", "arguments": "{}"},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "noon"},
    ]
    completion = oai.chat.completions.create(model="demo", messages=messages, tools=[TIME])
    assert completion.choices[0].message.content == "The tool returned: noon"
    assert completion.choices[0].finish_reason == "stop"


def test_max_tokens_stop_n_and_json(oai: openai.OpenAI) -> None:
    short = oai.chat.completions.create(model="demo", messages=HELLO, max_tokens=3)
    assert short.choices[0].message.content == "Hello from the"
    assert short.choices[0].finish_reason == "length"
    assert short.usage.completion_tokens == 3

    stopped = oai.chat.completions.create(model="demo", messages=HELLO, stop=["sandbox"])
    assert stopped.choices[0].message.content == "Hello from the "
    assert stopped.choices[0].finish_reason == "stop"

    many = oai.chat.completions.create(model="demo", messages=HELLO, n=3)
    assert [c.index for c in many.choices] == [0, 1, 2]
    assert many.usage.completion_tokens == 3 * 8

    as_json = oai.chat.completions.create(
        model="demo", messages=HELLO, response_format={"type": "json_object"}
    )
    assert json.loads(as_json.choices[0].message.content)["answer"].startswith("Hello")


@pytest.mark.parametrize("n", [1, 2])
def test_stream_with_n_choices(oai: openai.OpenAI, n: int) -> None:
    with oai.chat.completions.stream(model="demo", messages=HELLO, n=n) as stream:
        final = stream.get_final_completion()
    assert [c.message.content for c in final.choices] == [
        "Hello from the sandbox. You said: hi there"
    ] * n


def test_chunks_larger_than_the_answer_pad_it(oai: openai.OpenAI) -> None:
    with oai.chat.completions.stream(model="demo@chunks=60", messages=HELLO) as stream:
        pieces = [e.delta for e in stream if e.type == "content.delta" and e.delta]
        final = stream.get_final_completion()
    assert len(pieces) == 60
    assert final.choices[0].message.content.startswith("Hello from the sandbox. You said: hi")


def test_models_list(oai: openai.OpenAI) -> None:
    assert "sandbox-chat" in [m.id for m in oai.models.list()]
    assert oai.models.retrieve("anything").id == "anything"


def test_state_records_requests(oai: openai.OpenAI, sandbox: SandboxServer) -> None:
    oai.chat.completions.create(model="recorded@chunks=2", messages=HELLO)
    record = sandbox.state.last("/v1/chat/completions")
    assert record is not None
    assert record["model"] == "recorded@chunks=2"
    assert record["base_model"] == "recorded"
    assert record["options"] == {"chunks": "2"}
    assert record["body"]["messages"] == HELLO
    assert record["headers"]["authorization"] == "Bearer sk-test"
    assert record["status"] == 200
    assert record["finished_at"] >= record["started_at"]
    assert not record["cancelled"]
    assert sandbox.state.counts["recorded@chunks=2"] == 1
    assert sandbox.state.base_counts["recorded"] == 1
    assert sandbox.state.last_headers["authorization"] == "Bearer sk-test"


def test_json_schema_answer_follows_the_schema(oai: openai.OpenAI) -> None:
    schema = {
        "type": "object",
        "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
        "required": ["name", "age"],
        "additionalProperties": False,
    }
    completion = oai.chat.completions.create(
        model="demo",
        messages=HELLO,
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "person", "schema": schema, "strict": True},
        },
    )
    assert json.loads(completion.choices[0].message.content) == {"name": "sandbox", "age": 42}
