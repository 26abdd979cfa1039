"""The SSE decoder over any split of the bytes, and the first event sent on its own."""

import asyncio

from proxy.relay import _first_event_apart
from proxy.translate.sse import SSEDecoder

WIRE = (
    b"event: a\ndata: 1\n\n"
    b": keep-alive comment\n\n"
    b"data: two\ndata: lines\n\n"
    b"event: c\r\ndata:3\r\n\r\n"
    b"data: [DONE]\n\n"
)
EVENTS = [("a", b"1"), (None, b"two\nlines"), ("c", b"3"), (None, b"[DONE]")]


def test_every_split_of_the_wire_decodes_to_the_same_events() -> None:
    for size in (1, 2, 3, 7, 16, len(WIRE)):
        decoder = SSEDecoder()
        got = []
        for start in range(0, len(WIRE), size):
            got += list(decoder.feed(WIRE[start : start + size]))
        assert got == EVENTS, size
        assert decoder.pending == b""


def test_an_unfinished_event_waits_for_its_end() -> None:
    decoder = SSEDecoder()
    assert list(decoder.feed(b"data: 1\n\ndata: par")) == [(None, b"1")]
    assert decoder.pending == b"data: par"
    assert list(decoder.feed(b"tial\n\n")) == [(None, b"partial")]


def test_the_first_read_is_cut_after_its_first_event() -> None:
    async def reads():
        yield b"data: 1\n\ndata: 2\n\ndata: 3\n\n"
        yield b"data: 4\n\n"

    async def collect():
        return [chunk async for chunk in _first_event_apart(reads())]

    assert asyncio.run(collect()) == [b"data: 1\n\n", b"data: 2\n\ndata: 3\n\n", b"data: 4\n\n"]


def test_a_first_read_of_one_event_or_less_is_left_whole() -> None:
    async def reads():
        yield b"data: 1\n\n"
        yield b"data: 2"
        yield b"\n\n"

    async def collect():
        return [chunk async for chunk in _first_event_apart(reads())]

    assert asyncio.run(collect()) == [b"data: 1\n\n", b"data: 2", b"\n\n"]
