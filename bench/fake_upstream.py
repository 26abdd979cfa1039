"""A fake OpenAI/Anthropic upstream fast enough never to be the bottleneck of a benchmark.

A raw `asyncio.Protocol` HTTP/1.1 server with keep-alive: it parses the request line, the
headers and a Content-Length body, nothing more. Answers are fixed and serialised once.

- `POST /v1/chat/completions`: a small chat completion with usage; with `"stream": true` an
  SSE stream of N chunks, a usage chunk when `stream_options.include_usage`, `[DONE]`.
- `POST /v1/messages`: Anthropic's shape, the same way.

N and a delay between chunks come from the CLI (`--chunks`, `--delay-ms`) or per request
from the model name: `bench@chunks=20,delay_ms=500`.

    python bench/fake_upstream.py --port 9100 [--workers N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import sys
from collections.abc import Iterator

try:
    import orjson

    loads = orjson.loads
except ImportError:  # the fake runs with any Python
    loads = json.loads

CREATED = 1_700_000_000
TEXT = "Hello from the bench upstream."
MAX_HEAD = 64 * 1024


def _dumps(obj: object) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def _usage(prompt: int, completion: int) -> dict:
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def openai_json(model: str) -> bytes:
    return _dumps({
        "id": "chatcmpl-bench", "object": "chat.completion", "created": CREATED, "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": TEXT, "refusal": None},
                     "logprobs": None, "finish_reason": "stop"}],
        "usage": _usage(12, 7), "system_fingerprint": "fp_bench",
    })  # fmt: skip


def openai_events(model: str, chunks: int, with_usage: bool) -> Iterator[bytes]:
    head = _dumps({"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": CREATED,
                   "model": model, "system_fingerprint": "fp_bench"})[:-1]  # fmt: skip
    tail = b',"usage":null}' if with_usage else b"}"

    def chunk(delta: dict, finish: str | None) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return b"data: " + head + b',"choices":[' + _dumps(choice) + b"]" + tail + b"\n\n"

    yield chunk({"role": "assistant", "content": "", "refusal": None}, None)
    piece = chunk({"content": "tok "}, None)
    for _ in range(max(chunks - 2, 0)):
        yield piece
    yield chunk({}, "stop")
    if with_usage:
        yield b"data: " + head + b',"choices":[],"usage":' + _dumps(_usage(12, chunks)) + b"}\n\n"
    yield b"data: [DONE]\n\n"


def anthropic_json(model: str) -> bytes:
    return _dumps({
        "id": "msg_bench", "type": "message", "role": "assistant", "model": model,
        "content": [{"type": "text", "text": TEXT}], "stop_reason": "end_turn",
        "stop_sequence": None, "usage": {"input_tokens": 12, "output_tokens": 7},
    })  # fmt: skip


def anthropic_events(model: str, chunks: int) -> Iterator[bytes]:
    def event(name: str, obj: dict) -> bytes:
        return b"event: " + name.encode() + b"\ndata: " + _dumps(obj) + b"\n\n"

    message = {"id": "msg_bench", "type": "message", "role": "assistant", "model": model,
               "content": [], "stop_reason": None, "stop_sequence": None,
               "usage": {"input_tokens": 12, "output_tokens": 1}}  # fmt: skip
    yield event("message_start", {"type": "message_start", "message": message})
    yield event("content_block_start", {"type": "content_block_start", "index": 0,
                                        "content_block": {"type": "text", "text": ""}})  # fmt: skip
    delta = event("content_block_delta", {"type": "content_block_delta", "index": 0,
                                          "delta": {"type": "text_delta", "text": "tok "}})  # fmt: skip
    for _ in range(max(chunks - 2, 1)):
        yield delta
    yield event("content_block_stop", {"type": "content_block_stop", "index": 0})
    yield event("message_delta", {"type": "message_delta",
                                  "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                                  "usage": {"output_tokens": chunks}})  # fmt: skip
    yield event("message_stop", {"type": "message_stop"})


def options(model: str, chunks: int, delay_ms: float) -> tuple[int, float]:
    """`name@chunks=20,delay_ms=5` overrides the defaults for one request."""
    _, _, spec = model.partition("@")
    for part in spec.split(","):
        name, _, value = part.partition("=")
        try:
            if name == "chunks":
                chunks = max(int(value), 1)
            elif name == "delay_ms":
                delay_ms = max(float(value), 0.0)
        except ValueError:
            pass
    return chunks, delay_ms


def _head(status: bytes, ctype: bytes, length: int | None) -> bytes:
    size = (
        b"transfer-encoding: chunked\r\n" if length is None else b"content-length: %d\r\n" % length
    )
    return (b"HTTP/1.1 " + status + b"\r\ncontent-type: " + ctype + b"\r\n" + size
            + b"x-request-id: req_bench\r\nconnection: keep-alive\r\n\r\n")  # fmt: skip


def _chunked(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


class Upstream(asyncio.Protocol):
    chunks = 100
    delay_ms = 0.0
    _json_cache: dict[tuple[str, str], bytes] = {}

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.Transport = transport  # type: ignore[assignment]
        self.buf = bytearray()
        self.busy = False  # a delayed stream is being written; hold later requests

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if not self.busy:
            self._serve()

    def _serve(self) -> None:
        while not self.busy:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buf) > MAX_HEAD:
                    self.transport.close()
                return
            head = bytes(self.buf[:end]).decode("latin-1").split("\r\n")
            length = 0
            for line in head[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
            if len(self.buf) < end + 4 + length:
                return
            body = bytes(self.buf[end + 4 : end + 4 + length])
            del self.buf[: end + 4 + length]
            parts = head[0].split(" ")
            self._answer(parts[0], parts[1] if len(parts) > 1 else "/", body)

    def _answer(self, method: str, path: str, raw: bytes) -> None:
        path = path.split("?", 1)[0]
        kind = {"/v1/chat/completions": "openai", "/v1/messages": "anthropic"}.get(path)
        if method != "POST" or kind is None:
            body = b'{"error":{"message":"not found","type":"invalid_request_error"}}'
            self.transport.write(_head(b"404 Not Found", b"application/json", len(body)) + body)
            return
        try:
            req = loads(raw) if raw else {}
        except ValueError:
            req = {}
        model = str(req.get("model") or "bench")
        if not req.get("stream"):
            cached = self._json_cache.get((kind, model))
            if cached is None:
                body = openai_json(model) if kind == "openai" else anthropic_json(model)
                cached = _head(b"200 OK", b"application/json", len(body)) + body
                self._json_cache[(kind, model)] = cached
            self.transport.write(cached)
            return
        chunks, delay_ms = options(model, self.chunks, self.delay_ms)
        if kind == "openai":
            usage = bool((req.get("stream_options") or {}).get("include_usage"))
            events = openai_events(model, chunks, usage)
        else:
            events = anthropic_events(model, chunks)
        self.transport.write(_head(b"200 OK", b"text/event-stream", None))
        if delay_ms <= 0:
            # One write: the fake must cost far less than what it measures.
            self.transport.write(b"".join(map(_chunked, events)) + b"0\r\n\r\n")
            return
        self.busy = True
        asyncio.get_running_loop().create_task(self._slow(events, delay_ms / 1000))

    async def _slow(self, events: Iterator[bytes], delay: float) -> None:
        try:
            for i, event in enumerate(events):
                if i:
                    await asyncio.sleep(delay)
                if self.transport.is_closing():
                    return
                self.transport.write(_chunked(event))
            self.transport.write(b"0\r\n\r\n")
        finally:
            self.busy = False
        if self.buf and not self.transport.is_closing():
            self._serve()


def _listen(host: str, port: int, reuse_port: bool) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(4096)
    sock.setblocking(False)
    return sock


def serve(sock: socket.socket) -> None:
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass

    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(Upstream, sock=sock, backlog=4096)
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        server.close()

    asyncio.run(main())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9100)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--chunks", type=int, default=100, help="SSE chunks of a stream")
    parser.add_argument("--delay-ms", type=float, default=0.0, help="pause between chunks")
    args = parser.parse_args(argv)
    Upstream.chunks, Upstream.delay_ms = max(args.chunks, 1), max(args.delay_ms, 0.0)
    if args.workers <= 1:
        serve(_listen(args.host, args.port, reuse_port=False))
        return 0
    children = []
    for _ in range(args.workers):
        sock = _listen(args.host, args.port, reuse_port=True)
        pid = os.fork()
        if pid == 0:
            serve(sock)
            os._exit(0)
        sock.close()
        children.append(pid)
    signal.signal(signal.SIGTERM, lambda *_: [os.kill(p, signal.SIGTERM) for p in children])
    signal.signal(signal.SIGINT, lambda *_: [os.kill(p, signal.SIGTERM) for p in children])
    for pid in children:
        while True:
            try:
                os.waitpid(pid, 0)
                break
            except InterruptedError:
                continue
            except ChildProcessError:
                break
    return 0


if __name__ == "__main__":
    sys.exit(main())
