"""Wire rules: the gateway refuses only what it must understand (auth, model, stream,
size) and a translation's bad fields, naming the field; on a native path everything else
passes through untouched to the upstream, whose own answer comes back; big bodies get
413; buffered usage survives a graceful shutdown."""

import httpx
import pytest

from billing.models import UsageRecord
from proxy import usage_sink
from tests.processes import AsgiServer

EVERY_ROLE = [
    {"role": "system", "content": "Be brief."},
    {"role": "developer", "content": "Answer in English."},
    {
        "role": "user",
        "content": [
            {"type": "text", "text": "What is in this image?"},
            {
                "type": "image_url",
                "image_url": {"url": "data:image/png;base64,iVBORw0KGgo=", "detail": "low"},
            },
        ],
    },
    {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "look", "arguments": '{"x": 1}'},
            }
        ],
    },
    {"role": "tool", "tool_call_id": "call_1", "content": "a cat"},
]


def post(server, key, body=None, content=None, path="/v1/chat/completions"):
    return httpx.post(
        server.url + path, json=body, content=content, timeout=10,
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )  # fmt: skip


@pytest.mark.parametrize(
    ("content", "param", "fragment"),
    [
        (b"", None, "empty"),
        (b"{nope", None, "not valid JSON"),
        (b"[1, 2]", None, "must be a JSON object"),
        (b'{"messages": []}', "model", "Missing required parameter: 'model'"),
        (b'{"model": "demo"}', "messages", "Missing required parameter: 'messages'"),
        (b'{"model": 7, "messages": []}', "model", "expected a string"),
        (b'{"model": "demo", "messages": "hi"}', "messages", "expected an array"),
        (b'{"model": "demo", "messages": []}', "messages", "at least one message"),
        (b'{"model": "demo", "messages": [{"content": "x"}]}', "messages[0].role", "role"),
        (b'{"model": "demo", "messages": [1]}', "messages[0]", "expected an object"),
        (
            b'{"model": "demo", "messages": [{"role": "user", "content": "x"}], "stream": "yes"}',
            "stream",
            "boolean",
        ),
        (
            b'{"model": "demo", "messages": [{"role": "user", "content": "x"}], "max_tokens": 1.5}',
            "max_tokens",
            "integer",
        ),
        (
            b'{"model": "demo", "messages": [{"role": "user", "content": "x"}], "n": true}',
            "n",
            "integer",
        ),
        (
            b'{"model": "demo", "messages": [{"role": "user", "content": "x"}], "n": 0}',
            "n",
            "at least 1",
        ),
        (
            b'{"model": "demo", "messages": [{"role": "user", "content": "x"}], "tools": {}}',
            "tools",
            "array",
        ),
        (
            b'{"model": "demo", "messages": [{"role": "user", "content": "x"}], "temperature": "hot"}',
            "temperature",
            "number",
        ),
    ],
)
def test_a_translation_refuses_bad_bodies_naming_the_field(
    asgi_server, matrix_routes, tenant, content, param, fragment
):
    """Served by an Anthropic-kind provider, a chat body is read by the gateway's chat
    parser, which names what it cannot read before anything goes upstream."""
    content = content.replace(b'"demo"', b'"via-anthropic"')
    r = post(asgi_server, tenant.secret, content=content)
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["type"] == "invalid_request_error" and error["param"] == param
    assert fragment in error["message"]
    assert r.headers["x-request-id"] and float(r.headers["x-jinf-overhead-ms"]) >= 0
    assert matrix_routes.state.requests == [], "nothing reached the upstream"


@pytest.mark.parametrize(
    ("path", "body", "param"),
    [
        ("/v1/chat/completions", {"model": "via-openai", "messages": "hi"}, "messages"),
        ("/v1/chat/completions", {"model": "via-openai", "messages": [{"role": "robot", "content": "x"}]}, None),
        ("/v1/embeddings", {"model": "via-openai", "input": 5}, "input"),
        ("/v1/completions", {"model": "via-openai"}, "prompt"),
    ],
)  # fmt: skip
def test_a_native_path_leaves_the_body_to_the_upstream(
    asgi_server, matrix_routes, tenant, path, body, param
):
    """OpenAI client → OpenAI-kind provider: fields the gateway need not read go to the
    upstream unchanged, and the upstream's own refusal comes back."""
    r = post(asgi_server, tenant.secret, body, path=path)
    assert r.status_code == 400, r.text
    assert matrix_routes.state.requests, "the body reached the upstream"
    sent = matrix_routes.state.requests[-1]["body"]
    assert {k: v for k, v in sent.items() if k != "model"} == {
        k: v for k, v in body.items() if k != "model"
    }
    if param is not None:
        assert r.json()["error"]["param"] == param


def test_bodies_over_the_cap_get_413(asgi_server, routes, tenant, settings):
    settings.PROXY_MAX_BODY_BYTES = 64 * 1024
    big = {"model": "demo", "messages": [{"role": "user", "content": "x" * 100_000}]}
    r = post(asgi_server, tenant.secret, big)
    assert r.status_code == 413 and "larger than" in r.json()["error"]["message"]
    assert routes.state.requests == []


def test_wrong_method_is_a_clear_error(asgi_server, routes, tenant):
    r = httpx.get(
        asgi_server.url + "/v1/chat/completions",
        headers={"Authorization": f"Bearer {tenant.secret}"},
    )
    assert r.status_code == 405 and "POST" in r.json()["error"]["message"]


def test_every_role_and_parameter_passes_through_untouched(asgi_server, routes, tenant):
    body = {
        "model": "demo", "messages": EVERY_ROLE, "n": 2, "seed": 3, "stop": ["\n\n"], "user": "u-1",
        "max_tokens": 50, "max_completion_tokens": 60, "logprobs": True, "top_logprobs": 2,
        "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}},
        "tools": [{"type": "function", "function": {"name": "look", "parameters": {"type": "object"}}}],
        "tool_choice": "auto", "parallel_tool_calls": True, "temperature": 0.2,
        "metadata": {"team": "a"}, "vendor_extension": {"keep": ["me"]},
    }  # fmt: skip
    r = post(asgi_server, tenant.secret, body)
    assert r.status_code == 200, r.text
    sent = routes.state.requests[0]["body"]
    assert sent == {**body, "model": "demo"}
    assert len(r.json()["choices"]) == 2


def test_buffered_usage_is_written_on_graceful_shutdown(transactional_db, routes, monkeypatch):
    from tests.proxy.conftest import make_tenant

    monkeypatch.setattr(usage_sink, "FLUSH_INTERVAL_S", 3600.0)  # only the drain can write
    tenant = make_tenant("drain")
    server = AsgiServer().start()
    try:
        for _ in range(5):
            assert (
                post(
                    server, tenant.secret, {"model": "demo", "messages": EVERY_ROLE[:1]}
                ).status_code
                == 200
            )
        assert UsageRecord.objects.count() == 0
    finally:
        server.stop()
    assert UsageRecord.objects.count() == 5


@pytest.mark.parametrize("stream", [False, True])
def test_overhead_header_excludes_the_upstream_wait(asgi_server, sandbox, tenant, stream):
    from tests.proxy.conftest import load_routes

    load_routes(sandbox, {"slow-start": [{"model": "demo@first_byte_ms=300"}]})
    body = {"model": "slow-start", "messages": EVERY_ROLE[:1], "stream": stream}
    post(asgi_server, tenant.secret, body)  # warm the key and route caches
    r = post(asgi_server, tenant.secret, body)
    assert r.status_code == 200
    overhead = float(r.headers["x-jinf-overhead-ms"])
    assert 0 <= overhead < 100, overhead
    assert r.elapsed.total_seconds() > 0.3
