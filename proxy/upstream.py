"""One pooled upstream client per process (per event loop), never one per request.

httpx's types are the interface: providers build `httpx.Request`s, the relay reads
`httpx.Response`s and catches httpx's exceptions. Underneath, aiohttp's connection pool
and C parser carry the bytes. httpx's own pool (httpcore over anyio) scans every pooled
connection with a poll() on each request start and end, and builds a list of all of
them per idle one: on two cores a bare relay did 563 req/s at 64 connections through
it and 2,654 through this client, whose pool the event loop tells of closed
connections (`python -m bench.upstream_clients`, bench/README.md). Only what the relay needs is kept of httpx.AsyncClient's job:
no cookies, auth flows or redirects (upstream calls never follow one).
"""

import asyncio
import contextlib
import urllib.request
from collections.abc import AsyncIterator, Iterator

import aiohttp
import httpx

KEEPALIVE_S = 30.0
# aiohttp's default headers that an upstream call does not want (httpx sends its own).
SKIP_AUTO_HEADERS = frozenset({"User-Agent", "Accept", "Accept-Encoding"})


@contextlib.contextmanager
def _as_httpx_errors(request: httpx.Request, *, reading: bool) -> Iterator[None]:
    """aiohttp's exceptions as the httpx ones the relay tells apart: a timeout, a
    connection that could not be made, and one that broke."""
    try:
        yield
    except TimeoutError as exc:  # aiohttp's connect/read timeouts subclass it
        read = reading or isinstance(exc, aiohttp.SocketTimeoutError)
        kind = httpx.ReadTimeout if read else httpx.ConnectTimeout
        raise kind(str(exc) or "timed out", request=request) from exc
    except aiohttp.ClientConnectorError as exc:
        raise httpx.ConnectError(str(exc), request=request) from exc
    except (aiohttp.ClientError, OSError) as exc:
        message = str(exc) or type(exc).__name__
        kind = httpx.ReadError if reading else httpx.RemoteProtocolError
        raise kind(message, request=request) from exc


class _Body(httpx.AsyncByteStream):
    """An aiohttp response body as httpx's stream: chunks as they arrive."""

    def __init__(self, response: aiohttp.ClientResponse, request: httpx.Request) -> None:
        self._response, self._request = response, request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _as_httpx_errors(self._request, reading=True):
            async for chunk in self._response.content.iter_any():
                yield chunk

    async def aclose(self) -> None:
        # A body read to its end returns the connection to the pool; a body left
        # unread (a client that went away mid-stream) closes it, stopping the upstream.
        if self._response.content.at_eof():
            self._response.release()
        else:
            self._response.close()


class UpstreamClient:
    def __init__(self) -> None:
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0, keepalive_timeout=KEEPALIVE_S),
            auto_decompress=False,
            skip_auto_headers=SKIP_AUTO_HEADERS,
            # HTTP(S)_PROXY and NO_PROXY are honoured as httpx did; read per request only
            # when one is set, since aiohttp then parses the environment on every call.
            trust_env=bool(urllib.request.getproxies()),
        )

    @property
    def is_closed(self) -> bool:
        return self._session.closed

    def build_request(
        self,
        method: str,
        url: str,
        *,
        content: bytes,
        headers: dict[str, str],
        timeout: httpx.Timeout,
    ) -> httpx.Request:
        return httpx.Request(
            method, url, content=content, headers=headers, extensions={"timeout": timeout.as_dict()}
        )

    async def send(self, request: httpx.Request, *, stream: bool = False) -> httpx.Response:
        """The response once its headers are in; its body is read (`stream=False`) or
        left to `aiter_raw()`, then `aclose()`."""
        timeout = request.extensions.get("timeout") or {}
        with _as_httpx_errors(request, reading=False):
            answer = await self._session.request(
                request.method,
                str(request.url),
                headers=request.headers.multi_items(),
                data=request.content,
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(
                    total=None, sock_connect=timeout.get("connect"), sock_read=timeout.get("read")
                ),
            )
        response = httpx.Response(
            answer.status,
            headers=answer.raw_headers,
            stream=_Body(answer, request),
            request=request,
        )
        if not stream:
            try:
                await response.aread()
            finally:
                await response.aclose()
        return response

    async def aclose(self) -> None:
        await self._session.close()


_clients: dict[asyncio.AbstractEventLoop, UpstreamClient] = {}


def client() -> UpstreamClient:
    loop = asyncio.get_running_loop()
    c = _clients.get(loop)
    if c is None or c.is_closed:
        c = _clients[loop] = UpstreamClient()
    return c


def timeout_for(timeout_s: float) -> httpx.Timeout:
    """`read` bounds the wait for the first byte and every later gap in a stream."""
    return httpx.Timeout(timeout_s, connect=min(timeout_s, 10.0))


async def aclose_all() -> None:
    loop = asyncio.get_running_loop()
    c = _clients.pop(loop, None)
    if c is not None:
        await c.aclose()
