"""One HTTP exchange on the ASGI server: sending, pacing, noticing the client leave, and
dropping the connection on purpose."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from .state import Record

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
Headers = list[tuple[bytes, bytes]]


class Exchange:
    __slots__ = ("_watcher", "done", "gone", "receive", "record", "send")

    def __init__(self, receive: Receive, send: Send, record: Record) -> None:
        self.receive = receive
        self.send = send
        self.record = record
        self.done = False  # the response is complete (or dropped by us): a disconnect is normal
        self.gone = False  # the client went away
        self._watcher: asyncio.Task[None] | None = None

    def watch(self) -> None:
        """Start noticing a client disconnect; only slow or streamed answers need it."""
        if self._watcher is None:
            self._watcher = asyncio.get_running_loop().create_task(self._watch())

    async def _watch(self) -> None:
        while (await self.receive())["type"] != "http.disconnect":
            pass
        self.gone = True
        if not self.done:
            self.record["cancelled"] = True
            self.record["cancelled_at"] = time.monotonic()

    def close(self) -> None:
        if self._watcher is not None and not self._watcher.done():
            self._watcher.cancel()

    async def sleep(self, seconds: float) -> bool:
        """Wait; True when the client left meanwhile."""
        self.watch()
        await asyncio.sleep(seconds)
        return self.gone

    async def wait_until_gone(self) -> None:
        """Never answer: hold the request open until the client gives up."""
        self.watch()
        assert self._watcher is not None
        await self._watcher

    async def respond(self, status: int, headers: Headers, body: bytes) -> None:
        self.done = True
        self.record["status"] = status
        headers = [*headers, (b"content-length", str(len(body)).encode())]
        await self.send({"type": "http.response.start", "status": status, "headers": headers})
        await self.send({"type": "http.response.body", "body": body})

    async def stream(
        self,
        headers: Headers,
        events: Iterable[bytes],
        *,
        delay: float,
        stop_after: int | None = None,
    ) -> bool:
        """Send events `delay` seconds apart; False when the client left or we stopped early.

        With `stop_after`, only that many events go out and the response stays open, so the
        caller decides how it ends (a bad line, or a dropped connection).
        """
        self.watch()
        self.record["status"] = 200
        await self.send({"type": "http.response.start", "status": 200, "headers": headers})
        for sent, event in enumerate(events):
            if sent == stop_after:
                return False
            if sent and delay:
                await asyncio.sleep(delay)
            if self.gone:
                return False
            await self.send({"type": "http.response.body", "body": event, "more_body": True})
        return not self.gone

    async def finish(self, last: bytes = b"") -> None:
        self.done = True
        await self.send({"type": "http.response.body", "body": last, "more_body": False})

    async def drop(self) -> None:
        """Close the TCP connection mid-exchange, without a response or a final chunk.

        ASGI has no abort, so this reaches uvicorn's transport through its bound `send`.
        """
        self.done = True
        cycle = getattr(self.send, "__self__", None)
        transport = getattr(cycle, "transport", None)
        if transport is None:
            raise ConnectionAbortedError("sandbox fault: drop")
        transport.close()
        # Wait for uvicorn to register the loss, or it would answer 500 on our behalf.
        if self._watcher is not None:
            await self._watcher
        else:
            while (await self.receive())["type"] != "http.disconnect":
                pass
