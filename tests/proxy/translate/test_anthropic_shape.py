"""The Anthropic Messages client shape's output: whole answers, streams and errors that
the real SDK reads back (its models, its stream helper, its exceptions)."""

import anthropic
import httpx2
import orjson
import pytest
from anthropic.types import ErrorResponse
from anthropic.types import Message as SDKMessage

from proxy.translate.canonical import (
    Answer,
    Cost,
    Event,
    Finish,
    Start,
    TextDelta,
    ToolCall,
    ToolCallDelta,
    ToolCallStart,
    Usage,
)
from proxy.translate.errors import ProxyError
from proxy.translate.shapes import anthropic as shape

USER = {"role": "user", "content": "hi"}


def price(usage: Usage) -> Cost:
    pico = usage.input * 1_000 + usage.output * 3_000
    return Cost(pico, pico / 1e12)


def events(*, start: bool = True) -> list[Event]:
    return [
        *([Start("chatcmpl-abc", "gpt-x")] if start else []),
        TextDelta("Hel"),
        TextDelta("lo"),
        ToolCallStart(0, "call_a", "get_weather"),
        ToolCallDelta(0, '{"city":'),
        ToolCallDelta(0, ' "Paris"}'),
        ToolCallStart(1, "call_b", "get_time"),
        ToolCallDelta(1, "{}"),
        Finish("tool_calls"),
        Usage(input=20, output=7, cached=5),
    ]


def test_render_is_an_anthropic_message() -> None:
    answer = Answer.of(events())
    answer.tool_calls.append(ToolCall("call_c", "broken", '{"city": "Par'))
    message = SDKMessage.model_validate(shape.render(answer, model="claude-x", cost_usd=0.5))
    assert message.id.startswith("msg_") and message.model == "claude-x"
    assert [b.type for b in message.content] == ["text", "tool_use", "tool_use", "tool_use"]
    assert message.content[0].text == "Hello"
    assert [b.input for b in message.content[1:]] == [{"city": "Paris"}, {}, {}]
    assert [b.id for b in message.content[1:]] == ["call_a", "call_b", "call_c"]
    assert message.stop_reason == "tool_use" and message.stop_sequence is None
    usage = message.usage
    assert (usage.input_tokens, usage.cache_read_input_tokens, usage.output_tokens) == (15, 5, 7)
    assert usage.model_extra == {"cost": 0.5}


@pytest.mark.parametrize(
    ("finish", "reason", "sequence"),
    [
        (Finish("stop"), "end_turn", None),
        (Finish("stop", "END"), "stop_sequence", "END"),
        (Finish("length"), "max_tokens", None),
        (Finish("content_filter"), "refusal", None),
        (None, "end_turn", None),
    ],
)
def test_render_stop_reasons(finish, reason, sequence) -> None:
    answer = Answer(id="msg_keep", text="x", finish=finish)
    out = SDKMessage.model_validate(shape.render(answer, model="m", cost_usd=None))
    assert (out.id, out.stop_reason, out.stop_sequence) == ("msg_keep", reason, sequence)
    assert out.usage.model_extra == {}


def served(body: bytes, status: int = 200, stream: bool = True) -> anthropic.Anthropic:
    """The SDK reading `body` as if an Anthropic server had sent it."""
    content_type = "text/event-stream" if stream else "application/json"

    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(status, content=body, headers={"content-type": content_type})

    http = httpx2.Client(transport=httpx2.MockTransport(handler))
    return anthropic.Anthropic(api_key="x", http_client=http, max_retries=0)


def render_stream(events: list[Event]) -> bytes:
    renderer = shape.stream_renderer(model="claude-x", include_usage=False, price=price)
    return b"".join(renderer.render(e) for e in events) + renderer.end()


def sdk_stream(body: bytes) -> tuple[list[str], SDKMessage]:
    kwargs = {"model": "claude-x", "max_tokens": 9, "messages": [{"role": "user", "content": "hi"}]}
    with served(body).messages.stream(**kwargs) as stream:
        names = [e.type for e in stream]
        return names, stream.get_final_message()


def test_stream_reassembles_in_the_sdk() -> None:
    body = render_stream(events())
    wire = [
        line.split(" ", 1)[1] for line in body.decode().split("\n") if line.startswith("event:")
    ]
    assert wire == [
        "message_start",
        "content_block_start", "ping", "content_block_delta", "content_block_delta",
        "content_block_stop",
        "content_block_start", "content_block_delta", "content_block_delta", "content_block_stop",
        "content_block_start", "content_block_delta", "content_block_stop",
        "message_delta", "message_stop",
    ]  # fmt: skip
    _, message = sdk_stream(body)
    assert message.model == "claude-x" and message.id.startswith("msg_")
    assert [b.type for b in message.content] == ["text", "tool_use", "tool_use"]
    assert message.content[0].text == "Hello"
    assert (message.content[1].id, message.content[1].name) == ("call_a", "get_weather")
    assert message.content[1].input == {"city": "Paris"}
    assert message.content[2].input == {}
    assert message.stop_reason == "tool_use"
    usage = message.usage
    assert (usage.input_tokens, usage.cache_read_input_tokens, usage.output_tokens) == (15, 5, 7)
    delta = orjson.loads(body.split(b"event: message_delta\ndata: ")[1].split(b"\n")[0])
    assert delta["usage"]["cost"] == price(Usage(20, 7, 5)).usd


def test_stream_without_start_or_usage_still_complete() -> None:
    body = render_stream([TextDelta("hi"), Finish("stop", "END")])
    assert body.startswith(b"event: message_start\n")
    _, message = sdk_stream(body)
    assert message.content[0].text == "hi"
    assert (message.stop_reason, message.stop_sequence) == ("stop_sequence", "END")
    assert message.usage.output_tokens == 0


def test_cache_writes_are_counted_apart_from_input() -> None:
    usage = Usage(input=100, output=7, cached=30, cache_write=50)
    message = SDKMessage.model_validate(
        shape.render(Answer(text="x", usage=usage), model="m", cost_usd=None)
    )
    counts = message.usage
    assert (counts.input_tokens, counts.cache_read_input_tokens) == (20, 30)
    assert counts.cache_creation_input_tokens == 50
    _, streamed = sdk_stream(render_stream([TextDelta("x"), Finish("stop"), usage]))
    assert streamed.usage.input_tokens == 20 and streamed.usage.cache_creation_input_tokens == 50


@pytest.mark.parametrize(
    ("status", "kind"),
    [(529, "overloaded_error"), (429, "rate_limit_error"), (400, "invalid_request_error"),
     (504, "timeout_error"), (502, "api_error")],
)  # fmt: skip
def test_an_upstream_error_mid_stream_keeps_its_type(status: int, kind: str) -> None:
    renderer = shape.stream_renderer(model="m", include_usage=True, price=price)
    out = renderer.render(TextDelta("par")) + renderer.error(
        ProxyError(status, "The upstream provider failed mid-stream: busy", type="api_error")
    )
    last = out.split(b"event: error\ndata: ")[1].split(b"\n")[0]
    assert orjson.loads(last) == {
        "type": "error",
        "error": {"type": kind, "message": "The upstream provider failed mid-stream: busy"},
    }


def test_stream_error_reaches_the_sdk() -> None:
    renderer = shape.stream_renderer(model="m", include_usage=True, price=price)
    body = renderer.render(TextDelta("par")) + renderer.error(
        ProxyError(502, "The upstream provider failed mid-stream.", type="api_error")
    )
    with pytest.raises(anthropic.APIStatusError, match="failed mid-stream"):
        sdk_stream(body)


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, "invalid_request_error"), (401, "authentication_error"), (402, "billing_error"),
        (403, "permission_error"), (404, "not_found_error"), (413, "request_too_large"),
        (422, "invalid_request_error"), (429, "rate_limit_error"), (500, "api_error"),
        (502, "api_error"), (503, "overloaded_error"), (529, "overloaded_error"),
        (504, "timeout_error"),
    ],
)  # fmt: skip
def test_error_body(status: int, kind: str) -> None:
    body = shape.error_body(ProxyError(status, "Try again later."))
    assert orjson.loads(body) == {
        "type": "error",
        "error": {"type": kind, "message": "Try again later."},
    }
    if kind != "request_too_large":  # in Anthropic's docs, not in the SDK's model
        ErrorResponse.model_validate_json(body)
    with pytest.raises(anthropic.APIStatusError) as caught:
        served(body, status, stream=False).messages.create(model="m", max_tokens=1, messages=[USER])
    assert caught.value.status_code == status and caught.value.body == orjson.loads(body)
