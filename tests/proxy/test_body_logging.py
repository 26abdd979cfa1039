"""Prompts and answers through the real /v1: stored exactly as they crossed the gateway
only when the organization logs bodies, and never otherwise."""

import json
import time

import httpx

from accounts.models import Organization
from accounts.services import organization_set_logging
from billing.bodies import MAX_BYTES
from billing.models import UsageBody, UsageRecord
from tests.processes import wait_for
from tests.proxy.conftest import make_tenant, records

ASK = {"model": "demo", "messages": [{"role": "user", "content": "Tell me about bodies."}]}


def _logging_on(org: Organization, days: int = 7) -> None:
    organization_set_logging(organization=org, log_bodies=True, body_retention_days=days)


def _post(server, secret: str, path: str, body: bytes) -> httpx.Response:
    return httpx.post(
        server.url + path,
        content=body,
        headers={"authorization": f"Bearer {secret}", "content-type": "application/json"},
        timeout=10,
    )


def _body_of(request_id: str) -> UsageBody:
    assert wait_for(lambda: UsageBody.objects.filter(request_id=request_id).exists()), request_id
    return UsageBody.objects.get(request_id=request_id)


def test_nothing_is_stored_while_logging_is_off(asgi_server, routes, tenant):
    assert tenant.org.log_bodies is False  # the default
    sent = json.dumps(ASK).encode()
    assert _post(asgi_server, tenant.secret, "/v1/chat/completions", sent).status_code == 200
    streamed = json.dumps({**ASK, "stream": True}).encode()
    assert _post(asgi_server, tenant.secret, "/v1/chat/completions", streamed).status_code == 200
    records(2)
    assert UsageBody.objects.count() == 0


def test_a_call_and_a_stream_are_stored_byte_for_byte(asgi_server, routes, transactional_db):
    tenant = make_tenant("logged")
    _logging_on(tenant.org)
    sent = json.dumps(ASK).encode()
    reply = _post(asgi_server, tenant.secret, "/v1/chat/completions", sent)
    assert reply.status_code == 200
    body = _body_of(reply.headers["x-request-id"])
    assert body.organization_id == tenant.org.pk
    assert body.prompt == sent.decode() and body.answer == reply.text
    assert not body.prompt_truncated and not body.answer_truncated

    streamed = json.dumps({**ASK, "stream": True}).encode()
    reply = _post(asgi_server, tenant.secret, "/v1/chat/completions", streamed)
    assert reply.status_code == 200 and reply.text.endswith("data: [DONE]\n\n")
    body = _body_of(reply.headers["x-request-id"])
    assert body.prompt == streamed.decode()
    assert body.answer == reply.text  # every event, the last one included
    record = UsageRecord.objects.get(request_id=reply.headers["x-request-id"])
    assert record.streamed and record.status == "ok"


def test_an_anthropic_stream_is_stored_as_sent(asgi_server, routes, transactional_db):
    tenant = make_tenant("logged-messages")
    _logging_on(tenant.org)
    sent = json.dumps({**ASK, "max_tokens": 50, "stream": True}).encode()
    reply = _post(asgi_server, tenant.secret, "/v1/messages", sent)
    assert reply.status_code == 200 and "message_stop" in reply.text
    assert _body_of(reply.headers["x-request-id"]).answer == reply.text


def test_a_refusal_is_stored_with_the_error_it_got(asgi_server, routes, transactional_db):
    tenant = make_tenant("logged-refusal")
    _logging_on(tenant.org)
    sent = json.dumps({**ASK, "model": "no-such-model"}).encode()
    reply = _post(asgi_server, tenant.secret, "/v1/chat/completions", sent)
    assert reply.status_code == 404
    body = _body_of(reply.headers["x-request-id"])
    assert body.prompt == sent.decode()
    assert json.loads(body.answer) == reply.json()


def test_a_large_prompt_is_cut_at_the_cap_and_flagged(asgi_server, routes, transactional_db):
    tenant = make_tenant("logged-large")
    _logging_on(tenant.org)
    long = {**ASK, "messages": [{"role": "user", "content": "é" * MAX_BYTES}]}
    sent = json.dumps(long, ensure_ascii=False).encode()
    assert len(sent) > MAX_BYTES
    reply = _post(asgi_server, tenant.secret, "/v1/chat/completions", sent)
    assert reply.status_code == 200
    body = _body_of(reply.headers["x-request-id"])
    assert body.prompt_truncated
    # The sandbox echoes the prompt, so the answer passes the cap too, and is cut at it.
    assert body.answer_truncated and reply.text.startswith(body.answer.rstrip("\ufffd"))
    # Cut at MAX_BYTES bytes; a character split by the cut becomes one replacement mark.
    assert sent.decode().startswith(body.prompt.rstrip("\ufffd"))
    assert len(body.prompt.encode()) <= MAX_BYTES + 3


def test_turning_logging_on_and_off_reaches_a_warm_key_within_the_cache_ttl(
    asgi_server, routes, tenant
):
    sent = json.dumps(ASK).encode()
    assert _post(asgi_server, tenant.secret, "/v1/chat/completions", sent).status_code == 200
    _logging_on(tenant.org)
    started = time.monotonic()

    def stored_one() -> bool:
        reply = _post(asgi_server, tenant.secret, "/v1/chat/completions", sent)
        rid = reply.headers["x-request-id"]
        return wait_for(lambda: UsageRecord.objects.filter(request_id=rid).exists()) and (
            UsageBody.objects.filter(request_id=rid).exists()
        )

    assert wait_for(stored_one, timeout_s=5, interval_s=0.25)
    assert time.monotonic() - started < 3.5

    organization_set_logging(organization=tenant.org, log_bodies=False, body_retention_days=7)
    time.sleep(2.2)  # the key cache's TTL (proxy.auth.CACHE_TTL_S) and a margin
    reply = _post(asgi_server, tenant.secret, "/v1/chat/completions", sent)
    rid = reply.headers["x-request-id"]
    assert wait_for(lambda: UsageRecord.objects.filter(request_id=rid).exists())
    assert not UsageBody.objects.filter(request_id=rid).exists()
