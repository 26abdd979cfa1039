"""Anthropic-shape clients served by an Anthropic-kind upstream: bytes through, with the
client's model name, the upstream's exact usage, and cost added."""

import asyncio
from collections.abc import Iterator

import orjson
import pytest
from anthropic.lib.streaming._messages import accumulate_event
from anthropic.types import Message as SDKMessage

from proxy.translate.canonical import UpstreamFailed, Usage
from proxy.providers import anthropic
from sandbox import SandboxServer
from proxy.translate.sse import SSEDecoder
from proxy.table import DeploymentEntry, ProviderEntry
from proxy.upstream import aclose_all, client

TOOL = {
    "name": "get_weather",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
}
HEADERS = {b"Anthropic-Version": b"2023-06-01", b"anthropic-beta": b"tools-x", b"x-api-key": b"ck"}


def price(usage: Usage) -> tuple[int, float]:
    pico = usage.input * 1_000 + usage.output * 3_000 - usage.cached * 500
    return pico, pico / 1e12


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(chunks=5) as server:
        yield server


def send(sandbox: SandboxServer, body: dict, *, stream: bool, model: str) -> bytes:
    provider = ProviderEntry("up", "anthropic", sandbox.url + "/v1", "sk-ant-up", 10.0)
    deployment = DeploymentEntry(1, provider, model, 0, 1)

    async def go() -> bytes:
        try:
            request = anthropic.build_native(
                deployment, body, stream=stream, client_headers=HEADERS
            )
            response = await client().send(request)
            assert response.status_code == 200, response.text
            return response.content
        finally:
            await aclose_all()

    return asyncio.run(go())


def body(**extra) -> dict:
    return {
        "model": "client-model",
        "max_tokens": 50,
        "messages": [{"role": "user", "content": "hi"}],
        **extra,
    }


def test_request_and_whole_answer(sandbox: SandboxServer) -> None:
    answer = orjson.loads(send(sandbox, body(), stream=False, model="up-model@cached=4"))
    sent = sandbox.state.requests[-1]
    assert sent["body"] == {**body(), "model": "up-model@cached=4"}
    assert sent["path"] == "/v1/messages"
    assert sent["headers"]["x-api-key"] == "sk-ant-up"
    assert sent["headers"]["anthropic-version"] == "2023-06-01"
    assert sent["headers"]["anthropic-beta"] == "tools-x"
    raw = answer["usage"]
    usage = anthropic.native_usage(answer)
    assert usage == Usage(input=raw["input_tokens"] + 4, output=raw["output_tokens"], cached=4)
    out = anthropic.rewrite_native_answer(answer, "client-model", 0.25)
    message = SDKMessage.model_validate(out)
    assert message.model == "client-model"
    assert message.usage.model_extra == {"cost": 0.25}


@pytest.mark.parametrize("tools", [None, [TOOL]])
def test_stream_relay_passes_every_event_with_model_and_usage(
    sandbox: SandboxServer, tools
) -> None:
    extra = {"tools": tools} if tools else {}
    upstream = send(sandbox, body(stream=True, **extra), stream=True, model="up@cached=2")
    relay = anthropic.NativeStreamRelay(model="client-model", price=price)
    out = b"".join(relay.feed(upstream[i : i + 7]) for i in range(0, len(upstream), 7))
    assert relay.done
    before = [(n, orjson.loads(d)) for n, d in SSEDecoder().feed(upstream)]
    after = [(n, orjson.loads(d)) for n, d in SSEDecoder().feed(out)]
    assert [n for n, _ in after] == [n for n, _ in before]
    assert [d["type"] for _, d in after] == [n for n, _ in before]
    start_usage = before[0][1]["message"]["usage"]
    final = before[-2][1]["usage"]
    assert relay.usage == Usage(
        input=start_usage["input_tokens"] + 2, output=final["output_tokens"], cached=2
    )
    assert relay.cost_pico == price(relay.usage)[0] > 0
    assert after[-2][1]["usage"] == {**final, "cost": price(relay.usage)[1]}
    assert after[0][1]["message"]["model"] == "client-model"
    for (_, a), (_, b) in zip(after[1:-2], before[1:-2], strict=True):
        assert a == b
    snapshot, bufs = None, {}
    for _, event in after:
        snapshot = accumulate_event(event=event, current_snapshot=snapshot, json_bufs=bufs)
    assert snapshot is not None and snapshot.model == "client-model"
    assert snapshot.usage.cache_read_input_tokens == 2
    assert snapshot.usage.input_tokens == start_usage["input_tokens"]
    if tools:
        assert snapshot.content[0].input == {"city": "sandbox"}
    deltas = [d["delta"] for _, d in before if d["type"] == "content_block_delta"]
    generated = "".join(d.get("text") or d.get("partial_json") or "" for d in deltas)
    assert relay.generated_chars == len(generated) > 0


def test_stream_relay_refuses_bad_json_and_error_events() -> None:
    relay = anthropic.NativeStreamRelay(model="m", price=price)
    assert (
        relay.feed(b'event: ping\ndata: {"type": "ping"}\n\n')
        == b'event: ping\ndata: {"type":"ping"}\n\n'
    )
    assert relay.usage is None and not relay.done
    with pytest.raises(UpstreamFailed, match="not JSON"):
        relay.feed(b"event: content_block_delta\ndata: {not json\n\n")
    error = b'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n'
    with pytest.raises(UpstreamFailed, match="Overloaded"):
        anthropic.NativeStreamRelay(model="m", price=price).feed(error)
