"""Anthropic-shape clients served by an Anthropic-kind upstream: bytes through, with the
client's model name, the upstream's exact usage (cache reads and writes), and cost added."""

from collections.abc import Iterator

import httpx
import orjson
import pytest
from anthropic.lib.streaming._messages import accumulate_event
from anthropic.types import Message as SDKMessage

from proxy.translate.canonical import Cost, UpstreamFailed, Usage
from proxy.translate.providers.anthropic import ADAPTER, native
from proxy.translate.sse import SSEDecoder
from proxy.translate.wire import Upstream
from sandbox import SandboxServer

TOOL = {
    "name": "get_weather",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
}
HEADERS = {b"anthropic-version": b"2023-06-01", b"anthropic-beta": b"tools-x", b"x-api-key": b"ck"}


def price(usage: Usage) -> Cost:
    pico = usage.input * 1_000 + usage.output * 3_000 - usage.cached * 500
    return Cost(pico, pico / 1e12)


def body(**extra) -> dict:
    return {
        "model": "client-model",
        "max_tokens": 50,
        "messages": [{"role": "user", "content": "hi"}],
        **extra,
    }


def test_request_passes_the_body_with_the_upstream_model_and_client_betas() -> None:
    upstream = Upstream("https://api.test", "sk-ant-up", "up-model")
    sent = body(thinking={"type": "adaptive"}, system=[{"type": "text", "text": "s"}])
    r = ADAPTER.native_request(upstream, "messages", sent, stream=True, client_headers=HEADERS)
    assert r.url == "https://api.test/v1/messages"
    assert orjson.loads(r.body) == {**sent, "model": "up-model", "stream": True}
    assert sent["model"] == "client-model"  # the client's body is not changed
    assert r.headers["x-api-key"] == "sk-ant-up"
    assert (r.headers["anthropic-version"], r.headers["anthropic-beta"]) == (
        "2023-06-01",
        "tools-x",
    )
    counted = native.request(
        Upstream("https://api.test/v1", "", "m"), "count_tokens", body(), stream=False,
        client_headers={},
    )  # fmt: skip
    assert counted.url == "https://api.test/v1/messages/count_tokens"
    assert "x-api-key" not in counted.headers and "anthropic-beta" not in counted.headers


def test_whole_answer_gets_the_client_model_and_cost() -> None:
    usage = {"input_tokens": 10, "output_tokens": 4, "cache_read_input_tokens": 6,
             "cache_creation_input_tokens": 20}  # fmt: skip
    answer = {"id": "msg_1", "type": "message", "role": "assistant", "model": "up",
              "content": [{"type": "text", "text": "hi"}], "stop_reason": "end_turn",
              "stop_sequence": None, "usage": usage}  # fmt: skip
    out, counted = ADAPTER.native_answer("messages", answer, model="client-model", price=price)
    assert counted == Usage(input=36, output=4, cached=6, cache_write=20)
    message = SDKMessage.model_validate(out)
    assert message.model == "client-model"
    assert message.usage.model_extra == {"cost": price(counted).usd}
    assert message.usage.cache_creation_input_tokens == 20
    count = {"input_tokens": 12}
    assert ADAPTER.native_answer("count_tokens", count, model="m", price=price) == (count, None)


def sse(kind: str, **data) -> bytes:
    return f"event: {kind}\ndata: ".encode() + orjson.dumps({"type": kind, **data}) + b"\n\n"


STREAM = b"".join([
    sse("message_start", message={"id": "msg_9", "type": "message", "role": "assistant",
        "model": "up", "content": [], "stop_reason": None, "stop_sequence": None,
        "usage": {"input_tokens": 10, "output_tokens": 1, "cache_read_input_tokens": 6,
                  "cache_creation_input_tokens": 3}}),
    sse("content_block_start", index=0, content_block={"type": "text", "text": ""}),
    sse("ping"),
    sse("content_block_delta", index=0, delta={"type": "text_delta", "text": "Hel"}),
    sse("content_block_delta", index=0, delta={"type": "text_delta", "text": "lo"}),
    sse("content_block_stop", index=0),
    sse("content_block_start", index=1,
        content_block={"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}}),
    sse("content_block_delta", index=1, delta={"type": "input_json_delta", "partial_json": '{"city"'}),
    sse("content_block_delta", index=1, delta={"type": "input_json_delta", "partial_json": ':"Oslo"}'}),
    sse("content_block_stop", index=1),
    sse("message_delta", delta={"stop_reason": "tool_use", "stop_sequence": None},
        usage={"output_tokens": 9}),
    sse("message_stop"),
])  # fmt: skip


def relay_all(upstream: bytes, step: int = 7) -> tuple[native.StreamRelay, bytes]:
    relay = ADAPTER.native_stream("messages", model="client-model", include_usage=True, price=price)
    out = b"".join(relay.feed(upstream[i : i + step]) for i in range(0, len(upstream), step))
    return relay, out


def test_stream_relay_passes_every_event_with_model_usage_and_cost() -> None:
    relay, out = relay_all(STREAM)
    assert relay.done
    assert relay.usage == Usage(input=19, output=9, cached=6, cache_write=3)
    before = [(n, orjson.loads(d)) for n, d in SSEDecoder().feed(STREAM)]
    after = [(n, orjson.loads(d)) for n, d in SSEDecoder().feed(out)]
    assert [n for n, _ in after] == [n for n, _ in before]
    assert after[0][1]["message"]["model"] == "client-model"
    assert after[-2][1]["usage"] == {"output_tokens": 9, "cost": price(relay.usage).usd}
    for (_, a), (_, b) in zip(after[1:-2], before[1:-2], strict=True):
        assert a == b
    snapshot, bufs = None, {}
    for _, event in after:
        snapshot = accumulate_event(event=event, current_snapshot=snapshot, json_bufs=bufs)
    assert snapshot is not None and snapshot.model == "client-model"
    assert snapshot.content[1].input == {"city": "Oslo"}
    assert snapshot.usage.cache_creation_input_tokens == 3
    assert relay.generated_chars == len('Hello{"city":"Oslo"}')


def test_stream_relay_refuses_bad_json_and_keeps_error_status() -> None:
    relay = ADAPTER.native_stream("messages", model="m", include_usage=True, price=price)
    assert relay.feed(b'event: ping\ndata: {"type": "ping"}\n\n') == (
        b'event: ping\ndata: {"type":"ping"}\n\n'
    )
    assert relay.usage is None and not relay.done
    with pytest.raises(UpstreamFailed, match="not JSON"):
        relay.feed(b"event: content_block_delta\ndata: {not json\n\n")
    error = sse("error", error={"type": "overloaded_error", "message": "Overloaded"})
    with pytest.raises(UpstreamFailed, match="Overloaded") as caught:
        relay_all(STREAM.split(b"event: ping")[0] + error, step=len(STREAM))
    assert caught.value.status == 529
    assert b"message_start" in b"".join(caught.value.partial)  # what came before still goes


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(chunks=5) as server:
        yield server


@pytest.mark.parametrize("tools", [None, [TOOL]])
def test_a_real_anthropic_stream_round_trips(sandbox: SandboxServer, tools) -> None:
    extra = {"tools": tools} if tools else {}
    upstream = Upstream(sandbox.url + "/v1", "sk-ant-up", "up@cached=2")
    r = native.request(upstream, "messages", body(**extra), stream=True, client_headers=HEADERS)
    answer = httpx.post(r.url, content=r.body, headers=r.headers)
    assert answer.status_code == 200, answer.text
    sent = sandbox.state.requests[-1]
    assert sent["body"] == {**body(**extra), "model": "up@cached=2", "stream": True}
    assert sent["headers"]["anthropic-beta"] == "tools-x"
    relay, out = relay_all(answer.content)
    assert relay.done and relay.usage is not None and relay.usage.cached == 2
    snapshot, bufs = None, {}
    for _, data in SSEDecoder().feed(out):
        event = orjson.loads(data)
        snapshot = accumulate_event(event=event, current_snapshot=snapshot, json_bufs=bufs)
    assert snapshot is not None and snapshot.model == "client-model"
    if tools:
        assert snapshot.content[0].input == {"city": "sandbox"}
