"""One pooled httpx.AsyncClient per process (per event loop), never one per request."""

import asyncio

import httpx

_clients: dict[asyncio.AbstractEventLoop, httpx.AsyncClient] = {}


def client() -> httpx.AsyncClient:
    loop = asyncio.get_running_loop()
    c = _clients.get(loop)
    if c is None or c.is_closed:
        c = _clients[loop] = httpx.AsyncClient(
            limits=httpx.Limits(max_connections=None, max_keepalive_connections=512),
            timeout=None,
            follow_redirects=False,
        )
    return c


def timeout_for(timeout_s: float) -> httpx.Timeout:
    """`read` bounds the wait for the first byte and every later gap in a stream."""
    return httpx.Timeout(timeout_s, connect=min(timeout_s, 10.0))


async def aclose_all() -> None:
    loop = asyncio.get_running_loop()
    c = _clients.pop(loop, None)
    if c is not None:
        await c.aclose()
