"""A stream that breaks mid-read: the events read before the break still reach the
client, however the upstream's bytes were split into reads."""

import orjson
import pytest

from proxy.translate.canonical import Cost, TextDelta, UpstreamFailed
from proxy.translate.providers.anthropic import native as anthropic_native
from proxy.translate.providers.openai import native as openai_native
from proxy.translate.providers.openai import responses as openai_responses
from proxy.translate.providers.openai.translate import ChatStreamParser


def chat_chunk(text: str) -> bytes:
    chunk = {"id": "c1", "object": "chat.completion.chunk", "model": "up",
             "choices": [{"index": 0, "delta": {"content": text}}]}  # fmt: skip
    return b"data: " + orjson.dumps(chunk) + b"\n\n"


BROKEN = b"data: {not json\n\n"


def PRICE(usage) -> Cost:
    return Cost(0, 0.0)


def test_native_openai_relay_carries_the_events_before_the_break() -> None:
    relay = openai_native.StreamRelay(model="mine", include_usage=False, price=PRICE)
    with pytest.raises(UpstreamFailed) as caught:
        relay.feed(chat_chunk("Hel") + chat_chunk("lo") + BROKEN)
    relayed = b"".join(caught.value.partial)
    assert relayed.count(b"data: ") == 2
    assert b'"Hel"' in relayed and b'"lo"' in relayed and b'"model":"mine"' in relayed


def test_native_anthropic_and_responses_relays_carry_them_too() -> None:
    start = b'event: message_start\ndata: {"type":"message_start","message":{"model":"up","usage":{"input_tokens":3}}}\n\n'
    relay = anthropic_native.StreamRelay(model="mine", price=PRICE)
    with pytest.raises(UpstreamFailed) as caught:
        relay.feed(start + b"event: content_block_delta\ndata: {not json\n\n")
    assert b"message_start" in b"".join(caught.value.partial)

    created = (
        b'event: response.created\ndata: {"type":"response.created","response":{"model":"up"}}\n\n'
    )
    relay = openai_responses.StreamRelay(model="mine", price=PRICE)
    with pytest.raises(UpstreamFailed) as caught:
        relay.feed(created + b'event: error\ndata: {"type":"error","message":"boom"}\n\n')
    assert b'"model":"mine"' in b"".join(caught.value.partial)


def test_translating_parser_carries_the_canonical_events_before_the_break() -> None:
    parser = ChatStreamParser()
    with pytest.raises(UpstreamFailed) as caught:
        parser.feed(chat_chunk("Hel") + chat_chunk("lo") + BROKEN)
    texts = [e.text for e in caught.value.partial if isinstance(e, TextDelta)]
    assert texts == ["Hel", "lo"]


def test_an_unbroken_read_carries_nothing_extra() -> None:
    relay = openai_native.StreamRelay(model="mine", include_usage=False, price=PRICE)
    out = relay.feed(chat_chunk("Hi") + b"data: [DONE]\n\n")
    assert out.count(b"data: ") == 2 and relay.done
