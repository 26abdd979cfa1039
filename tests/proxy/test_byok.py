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

from accounts.services import api_key_create
from billing import byok as fees
from billing.models import CreditLedgerEntry, LedgerKind, UsageRecord
from billing.services import credits_grant, ledger_balance
from proxy import balancer, table
from proxy.models import Deployment, Provider
from proxy.routes_file import apply
from tests.api.conftest import session
from tests.proxy.conftest import records

ORG_SECRET = "sk-org-own-5b1e9c0d4f7a2e86"
PLATFORM_SECRET = "sk-platform-0a9b8c7d"
USD = 10**12
PRICE_IN, PRICE_OUT = "1.25", "3"  # USD per million tokens, declared by the organization


@pytest.fixture
def fee_percent(settings):
    settings.BYOK_FEE_PERCENT = Decimal("5")
    fees.numerator.cache_clear()
    yield
    fees.numerator.cache_clear()


@pytest.fixture
def platform(sandbox, settings):
    """The platform's own route to the same sandbox, under its own key."""
    settings.PROXY_COOLDOWN_FAILURES = 1
    apply(
        {
            "providers": [
                {"name": "up-openai", "kind": "openai", "base_url": sandbox.url + "/v1",
                 "api_key": PLATFORM_SECRET},
            ],
            "models": [
                {"name": "platform-chat", "price": {"input": 0.5, "output": 1},
                 "deployments": [{"provider": "up-openai", "model": "platform-chat"}]},
            ],
        }
    )  # fmt: skip
    table.invalidate()
    return sandbox


@pytest.fixture
def own(tenancy, platform, fee_percent):
    """org-a's admin adds its provider and a model on it through the API."""
    for org in (tenancy.org, tenancy.other_org):
        credits_grant(organization=org, amount_pico=10 * USD, reason="test")
    api = session(tenancy.admin)
    made = api.post(
        "/api/orgs/org-a/providers/",
        {"name": "own-up", "kind": "openai", "base_url": platform.url + "/v1",
         "api_key": ORG_SECRET},
        format="json",
    )  # fmt: skip
    assert made.status_code == 201, made.content
    model = api.post(
        "/api/orgs/org-a/models/",
        {"name": "our-llama", "deployments": [{"provider": "own-up", "model": "llama-own"}],
         "input_price_usd": PRICE_IN, "output_price_usd": PRICE_OUT},
        format="json",
    )  # fmt: skip
    assert model.status_code == 201, model.content
    return made, model


def gpt(server, secret: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.url + "/v1", api_key=secret, max_retries=0)


def declared_cost(tokens_in: int, tokens_out: int) -> int:
    return int(Decimal(PRICE_IN) * 10**6) * tokens_in + int(Decimal(PRICE_OUT) * 10**6) * tokens_out


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


def test_only_owners_and_admins_write_and_bad_input_is_a_field_error(tenancy, platform, settings):
    member = session(tenancy.member)
    body = {"name": "mine", "kind": "openai", "base_url": platform.url + "/v1", "api_key": "k"}
    refused = member.post("/api/orgs/org-a/providers/", body, format="json")
    assert refused.status_code == 403 and not Provider.objects.filter(name="mine").exists()
    assert member.get("/api/orgs/org-a/providers/").status_code == 200
    owner = session(tenancy.owner)
    assert owner.post("/api/orgs/org-a/providers/", body, format="json").status_code == 201
    again = owner.post("/api/orgs/org-a/providers/", body, format="json")
    assert again.status_code == 409 and "mine" in again.json()["detail"]
    for field, bad in (
        ("name", "Has Spaces"),
        ("kind", "gemini"),
        ("base_url", "ftp://example.com"),
        ("base_url", "http://user:pw@example.com/v1"),
        ("base_url", "not a url"),
    ):
        answer = owner.post(
            "/api/orgs/org-a/providers/", {**body, "name": "x2", field: bad}, format="json"
        )
        assert answer.status_code == 400 and field in answer.json(), (field, bad, answer.content)
    settings.BYOK_ALLOW_PRIVATE_URLS = False
    for url in ("http://127.0.0.1:8000/v1", "http://localhost/v1", "http://10.1.2.3/v1",
                "http://[::1]/v1", "http://169.254.169.254/latest"):  # fmt: skip
        answer = owner.post(
            "/api/orgs/org-a/providers/", {**body, "name": "x3", "base_url": url}, format="json"
        )
        assert answer.status_code == 400 and "private" in answer.json()["base_url"][0], url
    assert not Provider.objects.filter(name__in=["x2", "x3"]).exists()
    model = {"name": "m", "deployments": [{"provider": "nope", "model": "x"}]}
    answer = owner.post("/api/orgs/org-a/models/", model, format="json")
    assert answer.status_code == 400 and "nope" in str(answer.json()["deployments"])
    answer = owner.post("/api/orgs/org-a/models/", {"name": "m", "deployments": []}, format="json")
    assert answer.status_code == 400
    mixed = {"name": "m", "deployments": [{"provider": "mine", "model": "a"},
                                          {"provider": "up-openai", "model": "platform-chat"}]}  # fmt: skip
    answer = owner.post("/api/orgs/org-a/models/", mixed, format="json")
    assert answer.status_code == 400 and "not both" in str(answer.json()["deployments"])
    assert member.post("/api/orgs/org-a/models/", {"name": "m", "deployments": [
        {"provider": "mine", "model": "a"}]}, format="json").status_code == 403  # fmt: skip
    assert owner.post("/api/orgs/org-a/models/", {"name": "m", "deployments": [
        {"provider": "mine", "model": "a"}]}, format="json").status_code == 201  # fmt: skip
    used = owner.delete("/api/orgs/org-a/providers/mine/")
    assert used.status_code == 409 and "m" in used.json()["detail"]
    assert owner.delete("/api/orgs/org-a/models/m/").status_code == 204
    assert owner.delete("/api/orgs/org-a/providers/mine/").status_code == 204
    assert not Deployment.objects.filter(model_route__organization=tenancy.org).exists()


def test_a_model_over_the_platforms_provider_is_priced_as_the_platform_model_without_fee(
    asgi_server, tenancy, platform, own
):
    api = session(tenancy.admin)
    priced = api.post(
        "/api/orgs/org-a/models/",
        {"name": "alias", "deployments": [{"provider": "up-openai", "model": "platform-chat"}],
         "input_price_usd": "0"},
        format="json",
    )  # fmt: skip
    assert priced.status_code == 201 and priced.json()["byok"] is False
    unknown = api.post(
        "/api/orgs/org-a/models/",
        {"name": "other", "deployments": [{"provider": "up-openai", "model": "gpt-5-pro"}]},
        format="json",
    )
    assert unknown.status_code == 400 and "gpt-5-pro" in str(unknown.json())
    free = api.post(
        "/api/orgs/org-a/models/",
        {"name": "free", "deployments": [{"provider": "up-openai", "model": "platform-chat"}],
         "input_price_usd": "0.01"},
        format="json",
    )  # fmt: skip
    assert free.status_code == 400
    answer = gpt(asgi_server, tenancy.owner_key.secret).chat.completions.create(
        model="alias", messages=[{"role": "user", "content": "hello"}]
    )
    assert answer.model == "alias"
    sent = platform.state.requests[-1]
    assert sent["headers"]["authorization"] == f"Bearer {PLATFORM_SECRET}"
    (record,) = records(1)
    assert not record.byok and record.fee_pico == 0
    assert record.cost_pico == 500_000 * record.input_tokens + 1_000_000 * record.output_tokens


def test_an_organizations_provider_failing_never_cools_a_platform_provider_nor_the_reverse(
    asgi_server, tenancy, platform, own
):
    api = session(tenancy.admin)
    made = api.post(
        "/api/orgs/org-a/models/",
        {"name": "own-faulty", "deployments": [{"provider": "own-up", "model": "x@fault=503"}]},
        format="json",
    )
    assert made.status_code == 201
    client = gpt(asgi_server, tenancy.owner_key.secret)
    with pytest.raises(openai.APIStatusError):
        client.chat.completions.create(
            model="own-faulty", messages=[{"role": "user", "content": "x"}]
        )
    own_faulty = Deployment.objects.get(model_route__name="own-faulty")
    platform_dep = Deployment.objects.get(model_route__name="platform-chat")
    own_ok = Deployment.objects.get(model_route__name="our-llama")
    assert balancer.cooling_until(own_faulty.pk) is not None
    assert balancer.cooling_until(platform_dep.pk) is None
    assert (
        client.chat.completions.create(
            model="platform-chat", messages=[{"role": "user", "content": "x"}]
        ).model
        == "platform-chat"
    )
    # The reverse: the platform's model failing leaves the organization's own served.
    apply(
        {
            "providers": [{"name": "up-openai", "kind": "openai", "base_url": platform.url + "/v1",
                           "api_key": PLATFORM_SECRET}],
            "models": [{"name": "platform-chat", "price": {"input": 0.5, "output": 1},
                        "deployments": [{"provider": "up-openai", "model": "p@fault=503"}]}],
        }
    )  # fmt: skip
    table.invalidate()
    with pytest.raises(openai.APIStatusError):
        client.chat.completions.create(
            model="platform-chat", messages=[{"role": "user", "content": "x"}]
        )
    failing = Deployment.objects.get(model_route__name="platform-chat")
    assert balancer.cooling_until(failing.pk) is not None
    assert balancer.cooling_until(own_ok.pk) is None
    assert (
        client.chat.completions.create(
            model="our-llama", messages=[{"role": "user", "content": "x"}]
        ).model
        == "our-llama"
    )


def test_the_keys_limits_apply_to_an_own_model(asgi_server, tenancy, platform, own):
    limited = api_key_create(organization=tenancy.org, name="one a minute", rpm_limit=1)
    client = gpt(asgi_server, limited.secret)
    client.chat.completions.create(model="our-llama", messages=[{"role": "user", "content": "x"}])
    with pytest.raises(openai.RateLimitError) as refused:
        client.chat.completions.create(
            model="our-llama", messages=[{"role": "user", "content": "x"}]
        )
    assert refused.value.body["code"] == "rate_limit_exceeded"


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


def test_patching_a_providers_key_serves_its_models_with_the_new_key_at_once(
    asgi_server, tenancy, platform, own
):
    client = gpt(asgi_server, tenancy.owner_key.secret)
    ask = {"model": "our-llama", "messages": [{"role": "user", "content": "x"}]}
    client.chat.completions.create(**ask)
    rotated = "sk-org-rotated-93a1c6f0"
    api = session(tenancy.admin)
    path = "/api/orgs/org-a/providers/own-up/"
    assert session(tenancy.member).patch(path, {"api_key": "m"}, format="json").status_code == 403
    assert session(tenancy.outsider).patch(path, {"api_key": "b"}, format="json").status_code == 404
    bad = api.patch(path, {"timeout_s": 0}, format="json")
    assert bad.status_code == 400 and "timeout_s" in bad.json()
    changed = api.patch(path, {"api_key": rotated, "timeout_s": 30}, format="json")
    assert changed.status_code == 200, changed.content
    assert changed.json()["timeout_s"] == 30 and rotated.encode() not in changed.content
    client.chat.completions.create(**ask)
    sent = [r for r in platform.state.requests if r["base_model"] == "llama-own"]
    assert [r["headers"]["authorization"] for r in sent] == [
        f"Bearer {ORG_SECRET}",
        f"Bearer {rotated}",
    ]
