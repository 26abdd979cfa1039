"""Exactly one usage record per request, exact cost, exact debits, aborts recorded."""

import time

import httpx

from accounts.models import Organization
from billing.models import CreditLedgerEntry, UsageRecord
from billing.services import ledger_balance
from billing.usage import UsageEvent, usage_record_batch
from tests.processes import wait_for
from tests.proxy.conftest import make_tenant, records

ASK = [{"role": "user", "content": "Count the tokens of this sentence, please."}]


def test_balance_falls_by_exactly_the_sum_of_costs(asgi_server, routes, tenant):
    client = tenant.client(asgi_server)
    before = Organization.objects.get(pk=tenant.org.pk).credit_balance_pico
    for i in range(6):
        client.chat.completions.create(
            model="demo-cached" if i % 2 else "demo", messages=ASK, stream=bool(i % 3)
        )
    client.embeddings.create(model="demo", input="embed me")
    rows = records(7)
    assert len({r.request_id for r in rows}) == 7
    total = sum(r.cost_pico for r in rows)
    assert total > 0 and all(r.cost_pico > 0 for r in rows)
    org = Organization.objects.get(pk=tenant.org.pk)
    assert wait_for(
        lambda: Organization.objects.get(pk=tenant.org.pk).credit_balance_pico == before - total
    )
    org.refresh_from_db()
    assert ledger_balance(organization=org) == org.credit_balance_pico
    debits = CreditLedgerEntry.objects.filter(organization=org, kind="usage")
    assert -sum(d.amount_pico for d in debits) == total


def test_usage_batches_are_idempotent(tenant):
    events = [
        UsageEvent(request_id=f"req_{i}", organization_id=tenant.org.pk, api_key_id=tenant.key.pk,
                   endpoint="chat", model="demo", status="ok", input_tokens=10, output_tokens=5,
                   cost_pico=1_000_000)
        for i in range(3)
    ]  # fmt: skip
    assert usage_record_batch(events) == 3
    assert usage_record_batch(events) == 0  # a retried batch: nothing twice
    assert usage_record_batch([*events, events[0]]) == 0
    org = Organization.objects.get(pk=tenant.org.pk)
    assert UsageRecord.objects.count() == 3
    assert ledger_balance(organization=org) == org.credit_balance_pico
    assert CreditLedgerEntry.objects.filter(kind="usage").count() == 1


def test_client_disconnect_mid_stream_stops_upstream_within_a_second(asgi_server, routes, tenant):
    with httpx.Client(timeout=10) as client:
        with client.stream(
            "POST",
            asgi_server.url + "/v1/chat/completions",
            json={"model": "slow", "messages": ASK, "stream": True},
            headers={"Authorization": f"Bearer {tenant.secret}"},
        ) as response:
            assert response.status_code == 200
            received = 0
            for chunk in response.iter_raw():
                received += chunk.count(b"data: ")
                if received >= 3:
                    break
        left_at = time.monotonic()  # the connection is closed on leaving the block
    assert wait_for(
        lambda: routes.state.requests and routes.state.requests[0]["cancelled"], timeout_s=3
    )
    upstream = routes.state.requests[0]
    assert upstream["cancelled_at"] - left_at < 1.0
    (record,) = records(1)
    assert record.status == "client_abort" and record.streamed
    assert record.tokens_estimated and record.output_tokens > 0 and record.cost_pico > 0


def test_every_authenticated_request_yields_one_record(asgi_server, routes, transactional_db):
    tenant = make_tenant("mix")
    client = tenant.client(asgi_server)
    client.chat.completions.create(model="demo", messages=ASK)
    auth = {"Authorization": f"Bearer {tenant.secret}"}
    url = asgi_server.url + "/v1/chat/completions"
    assert httpx.post(url, headers=auth, json={"model": "nope", "messages": ASK}).status_code == 404
    assert httpx.post(url, headers=auth, content=b"{not json").status_code == 400
    assert httpx.post(asgi_server.url + "/v1/nowhere", headers=auth).status_code == 404
    httpx.post(url, json={"model": "demo", "messages": ASK})  # no key: nobody to record for
    rows = records(4)
    time.sleep(0.5)
    assert UsageRecord.objects.count() == 4
    by_status = {(r.status, r.http_status, r.code): r for r in rows}
    ok = by_status.pop(("ok", 200, ""))
    assert ok.api_key_id == tenant.key.pk and ok.organization_id == tenant.org.pk
    assert ok.provider == "sandbox" and ok.deployment_id is not None
    assert ok.latency_ms > 0
    assert set(by_status) == {
        ("refused", 404, "model_not_found"),
        ("refused", 400, "invalid_json"),
        ("refused", 404, "unknown_url"),
    }, set(by_status)
    unknown = by_status[("refused", 404, "model_not_found")]
    assert (
        unknown.model == "nope" and unknown.cost_pico == 0 and unknown.api_key_id == tenant.key.pk
    )


def test_a_written_record_reads_back_field_for_field(tenant):
    from dataclasses import fields

    event = UsageEvent(
        request_id="req_roundtrip", organization_id=tenant.org.pk, api_key_id=tenant.key.pk,
        endpoint="messages", model="demo", status="client_abort", http_status=499,
        provider="p", upstream_model="u", deployment_id=None, streamed=True,
        input_tokens=7, output_tokens=3, cached_tokens=2, tokens_estimated=True,
        cost_pico=42, latency_ms=1.5, ttft_ms=None, attempts=2, error="gone",
    )  # fmt: skip
    assert usage_record_batch([event]) == 1
    row = UsageRecord.objects.get(request_id="req_roundtrip")
    for f in fields(UsageEvent):
        if f.name in ("prepaid", "key_prefix"):  # how the writer debits, the live feed's
            continue
        if f.name in ("prompt", "answer", "prompt_truncated", "answer_truncated"):
            continue  # a UsageBody row's (tests/billing/test_bodies.py), not the record's
        assert getattr(row, f.name) == getattr(event, f.name), f.name
    assert row.ledger_entry_id is not None and row.ledger_entry.amount_pico == -42
