"""What users of other gateways report billed wrongly, through the real gateway: a dated
price never rewrites past usage; streamed spend is not 0; an aborted stream is billed what
it consumed; no POST endpoint bypasses the budget."""

import time
from datetime import timedelta

import httpx
import pytest
from django.utils import timezone

from billing.invoices.reconcile import reconcile
from billing.models import CreditLedgerEntry, ModelPrice, UsageRecord
from proxy import spend, table
from tests.processes import wait_for
from tests.proxy.conftest import PRICE, make_tenant, records

ASK = [{"role": "user", "content": "Count the tokens of this sentence, please."}]
MICRO = 10**6


def chat(server, secret, **body):
    return httpx.post(
        server.url + "/v1/chat/completions",
        json={"model": "demo", "messages": ASK, **body},
        headers={"Authorization": f"Bearer {secret}"},
        timeout=30,
    )


def list_cost(r: UsageRecord, input_usd: float, output_usd: float, cached_usd: float) -> int:
    plain = r.input_tokens - r.cached_tokens
    return int(
        (plain * input_usd + r.cached_tokens * cached_usd + r.output_tokens * output_usd) * MICRO
    )


def test_a_new_price_applies_from_its_time_and_never_rewrites_past_usage(
    asgi_server, routes, settings
):
    settings.PROXY_ROUTES_TTL_S = 3600.0  # no reload: the schedule itself switches
    tenant = make_tenant("dated")
    switch = timezone.now() + timedelta(seconds=2)
    ModelPrice.objects.create(
        model="demo", effective_from=switch, input_price=3 * MICRO, output_price=7 * MICRO
    )
    table.invalidate()
    assert chat(asgi_server, tenant.secret).status_code == 200
    (old,) = records(1)
    assert old.cost_pico == list_cost(old, PRICE["input"], PRICE["output"], PRICE["cached_input"])
    frozen = old.cost_pico
    assert wait_for(lambda: usage_debited(tenant.org) == frozen)
    (invoice,) = reconcile(organization=tenant.org)
    assert invoice.total_pico == frozen
    time.sleep(max(0.0, (switch - timezone.now()).total_seconds()) + 0.05)
    assert chat(asgi_server, tenant.secret).status_code == 200
    old_again, new = records(2)
    assert new.cost_pico == list_cost(new, 3, 7, 3)  # no cached price: input's
    assert new.cost_pico != frozen
    assert (old_again.request_id, old_again.cost_pico) == (old.request_id, frozen)
    # The ledger's debits and the invoice are what each request cost when it was made.
    assert wait_for(lambda: usage_debited(tenant.org) == frozen + new.cost_pico)
    (again,) = reconcile(organization=tenant.org)
    assert again.pk == invoice.pk
    (line,) = again.lines.filter(kind="usage")
    assert line.amount_pico == again.total_pico == frozen + new.cost_pico


def usage_debited(org) -> int:
    entries = CreditLedgerEntry.objects.filter(organization=org, kind="usage")
    return -sum(e.amount_pico for e in entries)


def test_a_streamed_call_is_recorded_at_its_exact_nonzero_cost(asgi_server, routes, tenant):
    with httpx.stream(
        "POST",
        asgi_server.url + "/v1/chat/completions",
        json={"model": "demo", "messages": ASK, "stream": True},  # no include_usage asked
        headers={"Authorization": f"Bearer {tenant.secret}"},
        timeout=30,
    ) as response:
        assert response.status_code == 200
        body = b"".join(response.iter_raw())
    assert b"[DONE]" in body
    (row,) = records(1)
    assert row.streamed and row.status == "ok" and not row.tokens_estimated
    assert row.input_tokens > 0 and row.output_tokens > 0
    assert row.cost_pico == list_cost(row, PRICE["input"], PRICE["output"], PRICE["cached_input"])
    assert row.cost_pico > 0


def test_an_aborted_stream_is_billed_what_it_consumed_not_zero_nor_the_worst_case(
    asgi_server, routes, tenant
):
    """A 200-chunk answer cut after 3 chunks."""
    body = {"model": "slow", "messages": ASK, "stream": True, "max_tokens": 4000}
    auth = {"Authorization": f"Bearer {tenant.secret}"}
    url = asgi_server.url + "/v1/chat/completions"
    with httpx.stream("POST", url, json=body, headers=auth, timeout=30) as response:
        received = 0
        for chunk in response.iter_raw():
            received += chunk.count(b"data: ")
            if received >= 3:
                break
    (cut,) = records(1)
    assert cut.status == "client_abort" and cut.streamed
    model = table.load().models["slow"]
    size = len(httpx.Request("POST", url, json=body).content)
    worst = spend.worst_case(model, "chat", body, size).pico
    assert 0 < cut.cost_pico < worst / 10, (cut.cost_pico, worst)
    assert 0 < cut.output_tokens < 100  # what reached the client, not the 4,000 asked for
    # Billed: its cost is in the ledger like any call's.
    assert wait_for(lambda: usage_debited(tenant.org) == cut.cost_pico)


POSTS = [
    ("/v1/chat/completions", {"model": "demo", "messages": ASK}),
    ("/v1/chat/completions", {"model": "demo", "messages": ASK, "stream": True}),
    ("/v1/completions", {"model": "demo", "prompt": "Say hi"}),
    ("/v1/completions", {"model": "demo", "prompt": "Say hi", "stream": True}),
    ("/v1/embeddings", {"model": "demo", "input": "embed me"}),
    ("/v1/responses", {"model": "demo", "input": "Say hi"}),
    ("/v1/responses", {"model": "demo", "input": "Say hi", "stream": True}),
    ("/v1/messages", {"model": "demo", "max_tokens": 16, "messages": ASK}),
    ("/v1/messages", {"model": "demo", "max_tokens": 16, "messages": ASK, "stream": True}),
]


@pytest.mark.parametrize(
    ("path", "body"), POSTS, ids=[f"{p}{'+s' * bool(b.get('stream'))}" for p, b in POSTS]
)
def test_no_post_endpoint_serves_an_organization_with_no_credit(asgi_server, routes, path, body):
    broke = make_tenant("broke", usd_pico=0)
    response = httpx.post(
        asgi_server.url + path,
        json=body,
        headers={"Authorization": f"Bearer {broke.secret}"},
        timeout=30,
    )
    assert response.status_code == 402, response.text
    assert "credit does not cover this request" in response.json()["error"]["message"]
    assert routes.state.requests == []  # nothing reached the upstream
    (row,) = records(1)
    assert (row.status, row.http_status, row.code) == ("refused", 402, "insufficient_credits")
    assert row.cost_pico == 0
