"""proxy/translate/shapes/responses.stream_renderer: canonical events as a Responses event stream
that the openai SDK's own helper (`client.responses.stream`) reassembles, served from a
real loopback HTTP server; every event validated by its SDK model."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import get_args

import openai
import orjson
import pytest
from openai.types.responses import ResponseStreamEvent

from proxy.translate.canonical import (
    Cost,
    Finish,
    Start,
    TextDelta,
    ToolCallDelta,
    ToolCallStart,
    Usage,
)
from proxy.translate.errors import ProxyError
from proxy.translate.shapes import responses
from proxy.translate.sse import SSEDecoder

EVENT_MODELS = {
    cls.model_fields["type"].annotation.__args__[0]: cls
    for cls in get_args(get_args(ResponseStreamEvent)[0])
}
TEXT_THEN_CALL = [
    Start("chatcmpl-1", "up"), TextDelta("Hel"), TextDelta("lo"),
    ToolCallStart(0, "call_w", "weather"), ToolCallDelta(0, '{"ci'), ToolCallDelta(0, 'ty":"Oslo"}'),
    Finish("tool_calls"), Usage(30, 8, 10),  # OpenAI-kind upstreams: usage after the finish
]  # fmt: skip
# OpenAI's order for a message followed by a function call.
REFERENCE = [
    "response.created", "response.in_progress",
    "response.output_item.added", "response.content_part.added",
    "response.output_text.delta", "response.output_text.delta",
    "response.output_text.done", "response.content_part.done", "response.output_item.done",
    "response.output_item.added",
    "response.function_call_arguments.delta", "response.function_call_arguments.delta",
    "response.function_call_arguments.done", "response.output_item.done",
    "response.completed",
]  # fmt: skip


def price(usage: Usage) -> Cost:
    return Cost(usage.input * 1000 + usage.output * 2000, usage.input * 1e-9 + usage.output * 2e-9)


def stream_bytes(events, *, end: bool = True) -> bytes:
    renderer = responses.stream_renderer(model="my-model", include_usage=True, price=price)
    return b"".join(renderer.render(e) for e in events) + (renderer.end() if end else b"")


def decoded(wire: bytes) -> list[dict]:
    """Each SSE event's data, checked against its `event:` name and its SDK model."""
    out = []
    for name, data in SSEDecoder().feed(wire):
        event = orjson.loads(data)
        assert name == event["type"]
        EVENT_MODELS[event["type"]].model_validate(event)  # strict: every required field
        out.append(event)
    numbers = [e["sequence_number"] for e in out]
    assert numbers == list(range(len(out)))
    return out


@pytest.fixture(scope="module")
def upstream():
    """A loopback server answering every POST with `upstream.body`, in small chunks."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers["content-length"]))
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.end_headers()
            for i in range(0, len(server.body), 97):
                self.wfile.write(server.body[i : i + 97])
                self.wfile.flush()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.body = b""
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()


def sdk_stream(upstream, wire: bytes):
    upstream.body = wire
    client = openai.OpenAI(
        base_url=f"http://127.0.0.1:{upstream.server_port}/v1", api_key="x", max_retries=0
    )
    with client.responses.stream(model="my-model", input="weather?") as stream:
        seen = [event.type for event in stream]
        return seen, stream.get_final_response()


def test_text_then_tool_call_reassembles_in_the_sdk(upstream):
    wire = stream_bytes(TEXT_THEN_CALL)
    seen, final = sdk_stream(upstream, wire)
    assert seen == REFERENCE
    assert [e["type"] for e in decoded(wire)] == REFERENCE
    assert final.status == "completed" and final.output_text == "Hello"
    [call] = [i for i in final.output if i.type == "function_call"]
    assert (call.call_id, call.name) == ("call_w", "weather")
    assert orjson.loads(call.arguments) == {"city": "Oslo"}
    usage = final.usage
    assert (usage.input_tokens, usage.output_tokens, usage.total_tokens) == (30, 8, 38)
    assert usage.input_tokens_details.cached_tokens == 10
    assert usage.cost == pytest.approx(price(Usage(30, 8, 10)).usd)


def test_item_events_agree_with_the_completed_response():
    events = decoded(stream_bytes(TEXT_THEN_CALL))
    created, done = events[0]["response"], events[-1]["response"]
    assert created["status"] == "in_progress" and created["output"] == []
    assert created["id"] == done["id"] and created["id"].startswith("resp_")
    finished = [e["item"] for e in events if e["type"] == "response.output_item.done"]
    assert done["output"] == finished
    text_done = next(e for e in events if e["type"] == "response.output_text.done")
    assert text_done["text"] == "Hello" and text_done["item_id"] == finished[0]["id"]
    args_done = next(e for e in events if e["type"] == "response.function_call_arguments.done")
    assert args_done["arguments"] == '{"city":"Oslo"}'
    assert (args_done["item_id"], args_done["output_index"]) == (finished[1]["id"], 1)
    added = next(
        e for e in events if e["type"] == "response.output_item.added" and e["output_index"] == 1
    )
    assert added["item"]["arguments"] == "" and added["item"]["status"] == "in_progress"


def test_parallel_calls_without_start_or_text(upstream):
    events = [
        ToolCallStart(0, "call_a", "weather"), ToolCallDelta(0, '{"city":"Oslo"}'),
        ToolCallStart(1, "call_b", "weather"), ToolCallDelta(1, '{"city":'), ToolCallDelta(1, '"Rome"}'),
        Finish("tool_calls"), Usage(4, 4),
    ]  # fmt: skip
    seen, final = sdk_stream(upstream, stream_bytes(events))
    assert seen[:3] == ["response.created", "response.in_progress", "response.output_item.added"]
    assert [(i.call_id, orjson.loads(i.arguments)) for i in final.output] == [
        ("call_a", {"city": "Oslo"}), ("call_b", {"city": "Rome"}),
    ]  # fmt: skip
    assert seen.index("response.output_item.done") < seen.index(
        "response.function_call_arguments.delta", seen.index("response.output_item.done")
    )  # the first call is closed before the second one streams


def test_an_empty_answer_still_completes(upstream):
    seen, final = sdk_stream(upstream, stream_bytes([Start("x", "up"), Finish("stop")]))
    assert final.output_text == "" and [i.type for i in final.output] == ["message"]
    assert seen[-1] == "response.completed" and final.usage is None


def test_length_ends_with_response_incomplete():
    events = decoded(
        stream_bytes([Start("x", "up"), TextDelta("Once"), Finish("length"), Usage(2, 1)])
    )
    last = events[-1]
    assert last["type"] == "response.incomplete"
    assert last["response"]["status"] == "incomplete"
    assert last["response"]["incomplete_details"] == {"reason": "max_output_tokens"}
    assert last["response"]["output"][0]["status"] == "incomplete"


def test_an_error_mid_stream_is_an_error_event_then_response_failed(upstream):
    renderer = responses.stream_renderer(model="my-model", include_usage=True, price=price)
    wire = b"".join(renderer.render(e) for e in [Start("x", "up"), TextDelta("Hi")])
    wire += renderer.error(ProxyError(502, "The upstream failed mid-stream.", type="api_error",
                                      code="upstream_stream_error"))  # fmt: skip
    events = decoded(wire)
    error, failed = events[-2], events[-1]
    assert (error["type"], error["code"]) == ("error", "upstream_stream_error")
    assert error["message"] == "The upstream failed mid-stream."
    assert failed["type"] == "response.failed" and failed["response"]["status"] == "failed"
    assert failed["response"]["error"] == {
        "code": "server_error",
        "message": "The upstream failed mid-stream.",
    }
    upstream.body = wire
    client = openai.OpenAI(base_url=f"http://127.0.0.1:{upstream.server_port}/v1", api_key="x")
    with client.responses.stream(model="my-model", input="x") as stream:
        seen = [e.type for e in stream]  # the SDK hands both events to the client
        with pytest.raises(RuntimeError, match=r"response\.completed"):
            stream.get_final_response()
    assert seen[-2:] == ["error", "response.failed"]


def test_an_error_before_anything_is_a_lone_error_event():
    renderer = responses.stream_renderer(model="my-model", include_usage=True, price=price)
    events = decoded(renderer.error(ProxyError(429, "Slow down.", code="rate_limit_exceeded")))
    assert [(e["type"], e["code"], e["sequence_number"]) for e in events] == [
        ("error", "rate_limit_exceeded", 0)
    ]


def test_the_request_settings_are_echoed_when_given():
    request = responses.parse({"model": "m", "input": "x", "instructions": "Be brief."})
    renderer = responses.stream_renderer(
        model="my-model", include_usage=True, price=price, request=request
    )
    events = decoded(renderer.render(TextDelta("ok")) + renderer.end())
    assert {e["response"]["instructions"] for e in events if "response" in e} == {"Be brief."}
