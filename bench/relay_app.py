"""A bare relay for bench/upstream_clients.py: an ASGI app that POSTs each request's
body to UPSTREAM_URL with the client named by RELAY_CLIENT and answers with the reply.
No Django, no auth, no parsing: what is left is the server and the upstream client."""

import os

import httpx

UPSTREAM_URL = os.environ.get("UPSTREAM_URL", "")
CLIENT = os.environ.get("RELAY_CLIENT", "ours")  # httpx | ours | aiohttp
HEADERS = {"content-type": "application/json", "authorization": "Bearer bench"}
_client = None


async def _relay(body: bytes) -> bytes:
    global _client
    if CLIENT == "httpx":
        if _client is None:
            _client = httpx.AsyncClient(
                limits=httpx.Limits(max_connections=None, max_keepalive_connections=512)
            )
        request = _client.build_request("POST", UPSTREAM_URL, content=body, headers=HEADERS)
        response = await _client.send(request, stream=True)
    elif CLIENT == "ours":
        from proxy.upstream import client, timeout_for

        c = client()
        request = c.build_request(
            "POST", UPSTREAM_URL, content=body, headers=HEADERS, timeout=timeout_for(60)
        )
        response = await c.send(request, stream=True)
    else:
        import aiohttp

        if _client is None:
            _client = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        async with _client.post(UPSTREAM_URL, data=body, headers=HEADERS) as answer:
            return await answer.read()
    try:
        return b"".join([chunk async for chunk in response.aiter_raw()])
    finally:
        await response.aclose()


async def app(scope, receive, send) -> None:
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    data = await _relay(body)
    headers = [(b"content-type", b"application/json")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": data})
