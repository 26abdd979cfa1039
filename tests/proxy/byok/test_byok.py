"""Bring your own provider key (issue 14) end to end: an organization adds its own
provider (a loopback upstream with its own key) and a model on it through the management
API, and calls it through the real gateway with the openai and anthropic SDKs.

The upstream sees the organization's key, not the platform's; another organization gets
404 for the model and cannot list or read the provider; the key is in no answer, page or
log; the record carries the cost at the declared prices and the ledger the exact fee."""

import logging
from decimal import Decimal

import anthropic
import openai
import pytest

from billing import byok as fees
from billing.models import CreditLedgerEntry, LedgerKind, UsageRecord
from billing.services import ledger_balance
from proxy.models import Provider
from tests.api.conftest import session
from tests.proxy.byok.conftest import ORG_SECRET, declared_cost, gpt
from tests.proxy.conftest import records


def test_calls_go_upstream_with_the_organizations_key_and_are_charged_the_exact_fee(
    asgi_server, tenancy, platform, own
):
    org = tenancy.org
    before = ledger_balance(organization=org)
    raw = gpt(asgi_server, tenancy.owner_key.secret).chat.completions.with_raw_response.create(
        model="our-llama", messages=[{"role": "user", "content": "hello"}]
    )
    answer = raw.parse()
    assert answer.model == "our-llama"
    claude = anthropic.Anthropic(
        base_url=asgi_server.url, api_key=tenancy.owner_key.secret, max_retries=0
    )
    with claude.messages.stream(
        model="our-llama", max_tokens=64, messages=[{"role": "user", "content": "hi"}]
    ) as stream:
        assert "".join(stream.text_stream)
    sent = [r for r in platform.state.requests if r["base_model"] == "llama-own"]
    assert len(sent) == 2
    assert {r["headers"]["authorization"] for r in sent} == {f"Bearer {ORG_SECRET}"}

    done = records(2)
    for record in done:
        assert record.model == "our-llama" and record.byok
        assert record.cost_pico == declared_cost(record.input_tokens, record.output_tokens) > 0
        assert record.fee_pico == fees.fee_pico(record.cost_pico)
    assert done[0].input_tokens == answer.usage.prompt_tokens
    debits = CreditLedgerEntry.objects.filter(organization=org, kind=LedgerKind.BYOK_FEE)
    assert sum(d.amount_pico for d in debits) == -sum(r.fee_pico for r in done)
    assert {r.ledger_entry_id for r in done} <= {d.pk for d in debits}
    assert not CreditLedgerEntry.objects.filter(organization=org, kind=LedgerKind.USAGE).exists()
    assert ledger_balance(organization=org) == before - sum(r.fee_pico for r in done)
    # The request log lists it like a platform model.
    log = session(tenancy.owner).get("/api/orgs/org-a/requests/").json()["data"]
    assert {row["model"] for row in log} == {"our-llama"}


def test_another_organization_gets_404_and_cannot_list_or_read_the_provider(
    asgi_server, tenancy, own
):
    mine = gpt(asgi_server, tenancy.owner_key.secret)
    theirs = gpt(asgi_server, tenancy.other_key.secret)
    assert "our-llama" in {m.id for m in mine.models.list()}
    assert mine.models.retrieve("our-llama").id == "our-llama"
    assert "our-llama" not in {m.id for m in theirs.models.list()}
    with pytest.raises(openai.NotFoundError) as refused:
        theirs.models.retrieve("our-llama")
    assert refused.value.body["code"] == "model_not_found"
    with pytest.raises(openai.NotFoundError) as refused:
        theirs.chat.completions.create(
            model="our-llama", messages=[{"role": "user", "content": "x"}]
        )
    assert refused.value.body["code"] == "model_not_found"
    assert (
        theirs.chat.completions.create(
            model="platform-chat", messages=[{"role": "user", "content": "x"}]
        ).model
        == "platform-chat"
    )

    outsider = session(tenancy.outsider)
    assert outsider.get("/api/orgs/org-b/providers/").json() == []
    assert outsider.get("/api/orgs/org-b/models/").json() == []
    assert outsider.get("/api/orgs/org-b/providers/own-up/").status_code == 404
    assert outsider.get("/api/orgs/org-b/models/our-llama/").status_code == 404
    for path in ("providers/", "providers/own-up/", "models/", "models/our-llama/"):
        assert outsider.get(f"/api/orgs/org-a/{path}").status_code == 404
    assert outsider.delete("/api/orgs/org-a/providers/own-up/").status_code == 404
    assert Provider.objects.filter(name="own-up").exists()
    # org-b may name its own provider alike; each stays its own.
    made = outsider.post(
        "/api/orgs/org-b/providers/",
        {"name": "own-up", "kind": "openai", "base_url": "http://127.0.0.1:9/v1", "api_key": "b"},
        format="json",
    )
    assert made.status_code == 201
    assert Provider.objects.filter(name="own-up").count() == 2
    # Key allowlists: org-a may allow its model; org-b is told it is not served.
    assert (
        session(tenancy.owner)
        .post(
            "/api/orgs/org-a/keys/", {"name": "k", "allowed_models": ["our-llama"]}, format="json"
        )
        .status_code
        == 201
    )
    refused = outsider.post(
        "/api/orgs/org-b/keys/", {"name": "k", "allowed_models": ["our-llama"]}, format="json"
    )
    assert refused.status_code == 400 and "our-llama" in str(refused.json()["allowed_models"])


def test_the_key_is_in_no_answer_page_or_log(asgi_server, tenancy, platform, own, caplog):
    caplog.set_level(logging.DEBUG)
    made, model = own
    seen = [made.content, model.content]
    api = session(tenancy.admin)
    for path in ("providers/", "providers/own-up/", "models/", "models/our-llama/"):
        seen.append(api.get(f"/api/orgs/org-a/{path}").content)
    assert made.json()["has_api_key"] is True and "api_key" not in made.json()
    seen.append(api.get("/api/schema/").content)
    client = gpt(asgi_server, tenancy.owner_key.secret)
    ok = client.chat.completions.with_raw_response.create(
        model="our-llama", messages=[{"role": "user", "content": "hello"}], stream=True
    )
    seen.append(b"".join(ok.http_response.iter_bytes()))
    seen.append(str(ok.headers).encode())
    faulty = {"name": "faulty", "deployments": [{"provider": "own-up", "model": "m@fault=401"}]}
    assert api.post("/api/orgs/org-a/models/", faulty, format="json").status_code == 201
    with pytest.raises(openai.APIStatusError) as bad:
        client.chat.completions.create(model="faulty", messages=[{"role": "user", "content": "x"}])
    seen.append(bad.value.response.content)
    seen.append(client.models.with_raw_response.list().content)
    portal = tenancy.client(tenancy.admin)
    for page in ("/o/org-a/models/", "/o/org-a/requests/", "/o/org-a/playground/"):
        answer = portal.get(page)
        assert answer.status_code == 200, page
        seen.append(answer.content)
    records(2)
    for record in UsageRecord.objects.all():
        seen.append(str(vars(record)).encode())
    seen.append(caplog.text.encode())
    assert all(ORG_SECRET.encode() not in blob for blob in seen)
    stored = Provider.objects.get(name="own-up").api_key_encrypted
    assert ORG_SECRET not in stored and Provider.objects.get(name="own-up").api_key == ORG_SECRET


def test_the_live_feed_shows_an_own_models_call_to_its_organization_only(
    asgi_server, tenancy, platform, own
):
    from websockets.sync.client import connect

    from tests.dashboard.test_live_feed import QUIET_S, receive, session_cookie, ws_url

    mine = {"Cookie": f"sessionid={session_cookie(tenancy.admin)}"}
    theirs = {"Cookie": f"sessionid={session_cookie(tenancy.outsider)}"}
    with (
        connect(ws_url(asgi_server.url, "org-a"), additional_headers=mine) as ws_a,
        connect(ws_url(asgi_server.url, "org-b"), additional_headers=theirs) as ws_b,
    ):
        reply = gpt(asgi_server, tenancy.owner_key.secret).chat.completions.with_raw_response
        request_id = reply.create(
            model="our-llama", messages=[{"role": "user", "content": "live"}]
        ).headers["x-request-id"]
        message = receive(ws_a, timeout=2.0)
        assert message is not None and message["request_id"] == request_id
        assert message["model"] == "our-llama" and Decimal(message["cost_usd"]) > 0
        assert receive(ws_b, timeout=QUIET_S) is None
