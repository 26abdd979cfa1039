"""On a native path the gateway is transparent: Claude Code's own request (system turns
inside messages, betas, thinking, context_management, deferred tools, cache_control)
reaches an Anthropic-kind upstream as it was sent, but for `model`; and an OpenAI
client's `openai-*` headers reach an OpenAI-kind one."""

import json
import pathlib

import httpx
import pytest

from sandbox.server import SandboxServer

FIXTURE = pathlib.Path(__file__).parent / "translate" / "fixtures" / "claude_code_messages.json"


@pytest.fixture
def sandbox():
    """System turns inside messages are generally available: no beta asked for."""
    server = SandboxServer(system_turns_need_beta=False).start()
    try:
        yield server
    finally:
        server.stop()


def test_claude_codes_request_reaches_an_anthropic_upstream_unchanged(
    asgi_server, matrix_routes, tenant
):
    captured = json.loads(FIXTURE.read_text())
    for turn in ("first", "second"):  # the first turn's capture keeps only its messages
        body = {**captured["second"], **captured[turn], "model": "via-anthropic"}
        r = httpx.post(
            asgi_server.url + "/v1/messages?beta=true",
            headers={
                "x-api-key": tenant.secret,
                "anthropic-version": "2023-06-01",
                "anthropic-beta": captured["anthropic-beta"],
            },
            json=body,
            timeout=10,
        )
        assert r.status_code == 200, r.text
        sent = matrix_routes.state.last("/v1/messages")
        assert {**sent["body"], "model": "via-anthropic"} == body, "nothing but model changed"
        assert sent["body"]["model"] == "demo"
        assert sent["headers"]["anthropic-beta"] == captured["anthropic-beta"]
        assert any(m["role"] == "system" for m in sent["body"]["messages"])


def test_openai_headers_reach_an_openai_upstream(asgi_server, matrix_routes, tenant):
    r = httpx.post(
        asgi_server.url + "/v1/chat/completions",
        headers={"Authorization": f"Bearer {tenant.secret}", "OpenAI-Project": "proj_1"},
        json={"model": "via-openai", "messages": [{"role": "user", "content": "hi"}]},
        timeout=10,
    )
    assert r.status_code == 200, r.text
    assert matrix_routes.state.last("/v1/chat/completions")["headers"]["openai-project"] == (
        "proj_1"
    )
