"""The README's promise: every /v1 response carries x-request-id and x-jinf-overhead-ms,
whatever answered it (the relay, a refusal, /v1/models, the ASGI edge's 413/431)."""

import socket

import httpx
import pytest


def _raw_post(port: int, path: str, headers: dict) -> httpx.Response:
    """A POST whose declared body never comes (httpx refuses to send one)."""
    lines = [f"POST {path} HTTP/1.1", f"host: 127.0.0.1:{port}",
             *(f"{k}: {v}" for k, v in headers.items()), "", ""]  # fmt: skip
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall("\r\n".join(lines).encode())
        data = b""
        while b"\r\n\r\n" not in data or not data.rstrip().endswith(b"}"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode().split("\r\n")
    parsed = dict(line.split(": ", 1) for line in header_lines)
    return httpx.Response(int(status_line.split()[1]), headers=parsed, content=body)


def _cases(secret: str) -> list[tuple[str, str, dict, bytes | None, int]]:
    auth = {"authorization": f"Bearer {secret}"}
    chat = b'{"model": "demo", "messages": [{"role": "user", "content": "hi"}]}'
    stream = b'{"model": "demo", "stream": true, "messages": [{"role": "user", "content": "hi"}]}'
    return [
        ("chat", "/v1/chat/completions", auth, chat, 200),
        ("stream", "/v1/chat/completions", auth, stream, 200),
        ("models", "/v1/models", auth, None, 200),
        ("one model", "/v1/models/demo", auth, None, 200),
        ("no key", "/v1/chat/completions", {}, chat, 401),
        ("bad json", "/v1/chat/completions", auth, b"{not json", 400),
        ("unknown model", "/v1/chat/completions", auth, chat.replace(b"demo", b"nope"), 404),
        ("unknown path", "/v1/nothing-here", auth, b"{}", 404),
        ("declared too large", "/v1/chat/completions",
         {**auth, "content-length": str(1024**3)}, None, 413),
        ("headers too large", "/v1/chat/completions", {**auth, "x-big": "a" * 70_000}, chat, 431),
    ]  # fmt: skip


@pytest.mark.parametrize("name", [c[0] for c in _cases("")])
def test_every_v1_response_carries_its_request_id_and_overhead(asgi_server, routes, tenant, name):
    _, path, headers, body, status = next(c for c in _cases(tenant.secret) if c[0] == name)
    with httpx.Client(base_url=asgi_server.url, timeout=10) as client:
        if name == "declared too large":  # a declared body never sent: refused at once
            reply = _raw_post(asgi_server.port, path, headers)
        elif body is None:
            reply = client.get(path, headers=headers)
        else:
            reply = client.post(
                path, content=body, headers={**headers, "content-type": "application/json"}
            )
    assert reply.status_code == status, reply.text
    assert reply.headers["x-request-id"].startswith("req_")
    assert float(reply.headers["x-jinf-overhead-ms"]) >= 0
