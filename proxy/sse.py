"""Server-sent events: split an upstream byte stream into events, frame ours."""

from collections.abc import Iterator

import orjson

from proxy.canonical import UpstreamFailed


class SSEDecoder:
    """Feed raw chunks, get complete events as (event name or None, data bytes)."""

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, chunk: bytes) -> Iterator[tuple[str | None, bytes]]:
        self._buffer += chunk
        if b"\r" in self._buffer:
            self._buffer = self._buffer.replace(b"\r\n", b"\n")
        while True:
            end = self._buffer.find(b"\n\n")
            if end < 0:
                return
            raw, self._buffer = self._buffer[:end], self._buffer[end + 2 :]
            event = _parse(raw)
            if event is not None:
                yield event

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
