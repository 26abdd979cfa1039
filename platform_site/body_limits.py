"""Slow and oversized request bodies, cut at the ASGI edge before any consumer or Django
view holds them.

- Headers of more than PROXY_MAX_HEADER_KB in all are answered 431 (uvicorn's
  httptools parser has no limit of its own; slow headers are the load balancer's to cut,
  README "Operations").
- A declared `Content-Length` above PROXY_MAX_BODY_MB is answered 413 at once, before a
  byte of the body is read (proxy.consumers still counts the bytes of a chunked body).
- The whole body must arrive within PROXY_BODY_TIMEOUT_S of the headers. A client that
  trickles it is answered 408, its connection closed, and the application is told the
  client went away, so nothing keeps waiting on it.

Both answers carry `connection: close`: the server has not read the rest of that body,
so the connection cannot be reused. Their envelope is the one the path's clients parse:
Anthropic's under /v1/messages, OpenAI's elsewhere.
"""

import asyncio
import time
import uuid

from django.conf import settings

from proxy.translate.errors import ProxyError
from proxy.translate.shapes import SHAPES


def declared_length(scope: dict) -> int | None:
    for name, value in scope.get("headers") or ():
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def header_bytes(scope: dict) -> int:
    return sum(len(name) + len(value) + 4 for name, value in scope.get("headers") or ())


def error_response(
    path: str, err: ProxyError, own_ms: float = 0.0
) -> tuple[list[tuple[bytes, bytes]], bytes]:
    """The refusal in the client's envelope, with the headers every /v1 answer carries: a
    request id of its own and the gateway's time (a body waited on is the client's)."""
    shape = SHAPES["messages" if path.startswith("/v1/messages") else "chat"]
    headers = [
        (b"content-type", b"application/json"),
        (b"connection", b"close"),
        (b"x-request-id", ("req_" + uuid.uuid4().hex).encode()),
        (b"x-jinf-overhead-ms", b"%.3f" % own_ms),
    ]
    return headers, shape.error_body(err)


async def answer(send, scope: dict, err: ProxyError, started: float | None = None) -> None:
    own_ms = (time.perf_counter() - started) * 1000 if started is not None else 0.0
    headers, body = error_response(scope.get("path", ""), err, own_ms)
    await send({"type": "http.response.start", "status": err.status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


def too_large() -> ProxyError:
    limit = settings.PROXY_MAX_BODY_BYTES // (1024 * 1024)
    return ProxyError(
        413, f"The request body is larger than {limit} MiB.", code="request_too_large"
    )


def headers_too_large() -> ProxyError:
    return ProxyError(
        431,
        f"The request headers are larger than {settings.PROXY_MAX_HEADER_KB} KiB in all.",
        code="headers_too_large",
    )


def too_slow() -> ProxyError:
    return ProxyError(
        408,
        f"The request body did not arrive within {settings.PROXY_BODY_TIMEOUT_S:g} s.",
        code="request_timeout",
    )


class BodyLimits:
    """ASGI middleware for http scopes; other scopes pass through untouched."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        if header_bytes(scope) > settings.PROXY_MAX_HEADER_KB * 1024:
            return await answer(send, scope, headers_too_large(), started)
        declared = declared_length(scope)
        if declared is not None and declared > settings.PROXY_MAX_BODY_BYTES:
            return await answer(send, scope, too_large(), started)
        cycle = _Cycle(scope, receive, send)
        return await self.app(scope, cycle.receive, cycle.send)


class _Cycle:
    """One request: the body's deadline on `receive`, and `send` muted once cut."""

    __slots__ = ("_receive", "_send", "body_done", "cut", "deadline", "scope", "started")

    def __init__(self, scope, receive, send) -> None:
        self.scope, self._receive, self._send = scope, receive, send
        self.deadline = asyncio.get_running_loop().time() + settings.PROXY_BODY_TIMEOUT_S
        self.body_done = self.cut = self.started = False

    async def receive(self) -> dict:
        if self.body_done or self.cut:
            return await self._receive()  # after the body: only a disconnect comes
        try:
            async with asyncio.timeout_at(self.deadline):
                message = await self._receive()
        except TimeoutError:
            self.cut = True
            if not self.started:
                await answer(self._send, self.scope, too_slow())
            return {"type": "http.disconnect"}
        if message["type"] != "http.request" or not message.get("more_body"):
            self.body_done = True
        return message

    async def send(self, message: dict) -> None:
        if self.cut:
            return  # answered 408 already: the application's late answer goes nowhere
        if message["type"] == "http.response.start":
            self.started = True
        await self._send(message)
