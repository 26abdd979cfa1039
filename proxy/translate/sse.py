"""Server-sent events: split an upstream byte stream into events, frame ours."""

from collections.abc import Iterator

import orjson

from proxy.translate.canonical import UpstreamFailed


class SSEDecoder:
    """Feed raw chunks, get complete events as (event name or None, data bytes)."""

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, chunk: bytes) -> Iterator[tuple[str | None, bytes]]:
        buffer = self._buffer + chunk if self._buffer else chunk
        if b"\r" in buffer:
            buffer = buffer.replace(b"\r\n", b"\n")
        start = 0  # walked by index: slicing the rest off after each event is quadratic
        try:
            while True:
                end = buffer.find(b"\n\n", start)
                if end < 0:
                    return
                event = _parse(buffer[start:end])
                start = end + 2
                if event is not None:
                    yield event
        finally:
            self._buffer = buffer[start:]

    @property
    def pending(self) -> bytes:
        return self._buffer


def _parse(raw: bytes) -> tuple[str | None, bytes] | None:
    name = None
    data: list[bytes] = []
    for line in raw.split(b"\n"):
        if line.startswith(b"data:"):
            data.append(line[6:] if line[5:6] == b" " else line[5:])
        elif line.startswith(b"event:"):
            name = line[6:].strip().decode()
    if not data and name is None:
        return None  # a comment or keep-alive
    return name, b"\n".join(data)


def typed_events(decoder: SSEDecoder, raw: bytes) -> Iterator[tuple[str | None, dict, object]]:
    """(event name, JSON object, its type) for each complete event; the type is the
    object's own `type`, else the event name (Anthropic and Responses streams)."""
    for name, data in decoder.feed(raw):
        event = load_event(data)
        yield name, event, event.get("type") or name


def frame(data: bytes, event: str | None = None) -> bytes:
    head = f"event: {event}\n".encode() if event else b""
    return head + b"data: " + data + b"\n\n"


def load_event(data: bytes) -> dict:
    """An event's JSON object; UpstreamFailed when the upstream sent anything else."""
    try:
        event = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise UpstreamFailed("The upstream sent a stream event that is not JSON.") from None
    if not isinstance(event, dict):
        raise UpstreamFailed("The upstream sent a stream event that is not an object.")
    return event
