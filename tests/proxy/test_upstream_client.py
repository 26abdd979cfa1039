"""proxy.upstream's client on loopback: httpx's exceptions for each way an upstream
fails, bodies streamed as they come, and the proxy environment honoured."""

import asyncio

import httpx
import pytest

from proxy.upstream import UpstreamClient, timeout_for


async def serve(handler) -> tuple[asyncio.Server, str]:
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return server, f"http://127.0.0.1:{port}"


async def read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        (
            int(line.split(b":")[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        ),
        0,
    )
    await reader.readexactly(length)
    return head


async def call(url: str, *, timeout_s: float = 5.0, stream: bool = False) -> httpx.Response:
    client = UpstreamClient()
    try:
        request = client.build_request(
            "POST", url, content=b"{}", headers={"content-type": "application/json"},
            timeout=timeout_for(timeout_s),
        )  # fmt: skip
        response = await client.send(request, stream=stream)
        if stream:
            try:
                response._collected = [c async for c in response.aiter_raw()]  # type: ignore[attr-defined]
            finally:
                await response.aclose()
        return response
    finally:
        await client.aclose()


def against(handler, *, path: str = "/v1/x", **kwargs) -> httpx.Response:
    """One call to a loopback server answering with `handler`."""

    async def scenario():
        server, base = await serve(handler)
        async with server:
            return await call(base + path, **kwargs)

    return asyncio.run(scenario())


def test_a_whole_answer_and_a_streamed_one() -> None:
    async def handler(reader, writer):
        await read_request(reader)
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
        )
        for part in (b"data: 1\n\n", b"data: 2\n\n"):
            writer.write(b"%x\r\n%s\r\n" % (len(part), part))
            await writer.drain()
            await asyncio.sleep(0.05)
        writer.write(b"0\r\n\r\n")
        await writer.drain()
        writer.close()

    whole, streamed = against(handler), against(handler, stream=True)
    assert whole.status_code == 200 and whole.content == b"data: 1\n\ndata: 2\n\n"
    assert whole.headers["content-type"] == "text/event-stream"
    assert streamed._collected == [b"data: 1\n\n", b"data: 2\n\n"]  # as they came


def test_connection_refused_is_a_connect_error() -> None:
    async def scenario():
        server, base = await serve(lambda r, w: None)
        server.close()
        await server.wait_closed()
        await call(base + "/v1/x")

    with pytest.raises(httpx.ConnectError):
        asyncio.run(scenario())


def test_a_close_before_any_answer_is_a_transport_error() -> None:
    async def handler(reader, writer):
        await read_request(reader)
        writer.close()

    with pytest.raises(httpx.TransportError) as caught:
        against(handler)
    assert not isinstance(caught.value, httpx.TimeoutException)


def test_no_answer_within_the_timeout_is_a_read_timeout() -> None:
    async def handler(reader, writer):
        await read_request(reader)
        await asyncio.sleep(2)

    with pytest.raises(httpx.ReadTimeout):
        against(handler, timeout_s=0.3)


def test_a_body_cut_short_is_a_read_error() -> None:
    async def handler(reader, writer):
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n")
        await writer.drain()
        writer.close()

    with pytest.raises(httpx.ReadError):
        against(handler, stream=True)


def test_the_proxy_environment_is_honoured(monkeypatch) -> None:
    seen: list[bytes] = []

    async def proxy(reader, writer):
        seen.append(await read_request(reader))
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
        await writer.drain()
        writer.close()

    async def scenario():
        server, base = await serve(proxy)
        monkeypatch.setenv("HTTP_PROXY", base)
        async with server:
            return await call("http://upstream.invalid/v1/chat/completions")

    response = asyncio.run(scenario())
    assert response.content == b"ok"
    assert seen and seen[0].startswith(b"POST http://upstream.invalid/v1/chat/completions ")
