"""Money held before serving, through the real gateway: the contract's 402 codes and
messages, the invariants under concurrency, and keys' IP allowlists."""

import httpx
import pytest
from django.utils import timezone

from accounts.money import PICO_PER_USD
from accounts.services import api_key_create
from billing.models import CreditLedgerEntry, UsageRecord
from billing.services import ledger_balance
from proxy import addresses, spend
from proxy.auth import networks
from tests.load import hammer
from tests.processes import wait_for
from tests.proxy.conftest import make_tenant, records

ASK = [{"role": "user", "content": "Say hi"}]
BODY = {"model": "demo", "messages": ASK, "max_tokens": 8}


def post(server, secret, body=BODY, **headers):
    return httpx.post(
        server.url + "/v1/chat/completions",
        json=body,
        headers={"Authorization": f"Bearer {secret}", **headers},
        timeout=30,
    )


def one_request_cost(server) -> int:
    probe = make_tenant("probe")
    assert post(server, probe.secret).status_code == 200
    [row] = records(1)
    return row.cost_pico


def test_credit_for_20_requests_serves_at_most_20_under_32_connections(asgi_server, routes):
    cost = one_request_cost(asgi_server)
    tenant = make_tenant("twenty", usd_pico=20 * cost)
    results = hammer([asgi_server.url], BODY, tenant.secret, connections=32, seconds=4)
    assert 1 <= results.statuses[200] <= 20, results.statuses
    assert results.server_errors == 0, results.statuses
    assert set(results.statuses) <= {200, 402}, results.statuses
    refusal = results.refusals[0].json()["error"]
    assert refusal["code"] == "insufficient_credits" and "Add credits" in refusal["message"]
    ids = set(results.served)
    assert wait_for(lambda: UsageRecord.objects.filter(request_id__in=ids).count() == len(ids))
    assert_ledger_exact(tenant.org)
    tenant.org.refresh_from_db()
    assert tenant.org.credit_balance_pico >= 0  # worst case ≥ cost: no request overdraws


def assert_ledger_exact(org) -> None:
    """balance = Σ ledger = grants − Σ usage cost, to the pico-dollar."""
    org.refresh_from_db()
    assert wait_for(
        lambda: (
            ledger_balance(organization=org)
            == sum(
                e.amount_pico
                for e in CreditLedgerEntry.objects.filter(organization=org, kind="grant")
            )
            - sum(r.cost_pico for r in UsageRecord.objects.filter(organization=org))
        ),
        timeout_s=10,
    )
    org.refresh_from_db()
    assert org.credit_balance_pico == ledger_balance(organization=org)


def test_a_key_budget_and_an_org_cap_refuse_with_their_codes(asgi_server, routes):
    cost = one_request_cost(asgi_server)
    worst = post_worst_case()
    tenant = make_tenant("budget", budget_pico=worst + cost - 1)  # one fits, then not twice
    assert post(asgi_server, tenant.secret).status_code == 200
    refused = post(asgi_server, tenant.secret)
    assert refused.status_code == 402, refused.text
    error = refused.json()["error"]
    assert error["code"] == "key_budget_exceeded" and "does not reset" in error["message"]
    assert "retry-after" not in refused.headers  # a budget is not a rate: do not retry

    daily = api_key_create(
        organization=tenant.org, name="daily", budget_pico=cost, budget_period="day"
    )
    error = post(asgi_server, daily.secret).json()["error"]
    tomorrow = (timezone.now() + timezone.timedelta(days=1)).strftime("%Y-%m-%d 00:00 UTC")
    assert error["code"] == "key_budget_exceeded" and tomorrow in error["message"]

    tenant.org.monthly_cap_pico = cost
    tenant.org.save()
    capped = api_key_create(organization=tenant.org, name="capped")
    error = post(asgi_server, capped.secret).json()["error"]
    assert error["code"] == "org_spend_cap" and "resets at" in error["message"]
    rows = records(5)  # the probe, the one that fit, three refusals
    refusals = [r for r in rows if r.status == "refused"]
    assert sorted(r.code for r in refusals) == [
        "key_budget_exceeded",
        "key_budget_exceeded",
        "org_spend_cap",
    ]
    assert all(r.http_status == 402 and r.cost_pico == 0 for r in refusals)


def post_worst_case() -> int:
    from proxy.table import ModelEntry  # noqa: F401 - the prices come from the routes fixture
    from tests.proxy.conftest import PRICE

    size = len(httpx.Request("POST", "http://x", json=BODY).content)
    return int(spend.input_estimate(size) * PRICE["input"] * 10**6) + int(
        8 * PRICE["output"] * 10**6
    )


def test_a_request_larger_than_the_balance_says_what_it_could_cost(asgi_server, routes):
    tenant = make_tenant("small", usd_pico=PICO_PER_USD // 100)  # $0.01
    refused = post(asgi_server, tenant.secret, {**BODY, "max_tokens": 100_000})
    assert refused.status_code == 402
    message = refused.json()["error"]["message"]
    assert "up to $0.225" in message and "100000 output tokens" in message, message
    assert post(asgi_server, tenant.secret).status_code == 200  # a smaller one fits


@pytest.mark.parametrize(
    ("allowed", "sent_from", "forwarded", "trusted", "ok"),
    [
        (["127.0.0.1/32"], "127.0.0.1", None, [], True),
        (["10.0.0.0/8"], "127.0.0.1", None, [], False),
        (["10.0.0.0/8"], "127.0.0.1", "10.1.2.3", [], False),  # XFF from an untrusted peer
        (["10.0.0.0/8"], "127.0.0.1", "10.1.2.3", ["127.0.0.0/8"], True),
        (["10.0.0.0/8"], "127.0.0.1", "10.1.2.3, 192.0.2.9", ["127.0.0.0/8"], False),
        (["2001:db8::/32"], "127.0.0.1", "2001:db8::5", ["127.0.0.1/32"], True),
    ],
)
def test_ip_allowlists_through_the_gateway(
    asgi_server, routes, settings, allowed, sent_from, forwarded, trusted, ok
):
    settings.TRUSTED_PROXIES = trusted
    tenant = make_tenant("ips", allowed_ips=allowed)
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    response = post(asgi_server, tenant.secret, **headers)
    if ok:
        assert response.status_code == 200, response.text
    else:
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "ip_not_allowed"


def test_client_address_reads_only_what_trusted_proxies_wrote(settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8", "fd00::/8"]
    scope = {"client": ("10.0.0.2", 5000)}
    xff = {b"x-forwarded-for": b"203.0.113.7, 198.51.100.1, 10.0.0.9"}
    assert str(addresses.client_address(scope, xff)) == "198.51.100.1"
    assert str(addresses.client_address({"client": ("fd00::1", 1)}, xff)) == "198.51.100.1"
    assert str(addresses.client_address({"client": ("192.0.2.1", 1)}, xff)) == "192.0.2.1"
    garbled = {b"x-forwarded-for": b"nonsense"}
    assert str(addresses.client_address(scope, garbled)) == "10.0.0.2"
    assert str(addresses.client_address({"client": ("::ffff:10.0.0.2", 1)}, {})) == "10.0.0.2"


def test_an_allowlist_that_does_not_parse_allows_nothing():
    assert networks([]) == ()
    assert [str(n) for n in networks(["10.0.0.0/8", "bogus"])] == ["10.0.0.0/8"]
    only_bogus = networks(["bogus"])
    assert only_bogus and not any(n.version == 6 for n in only_bogus)


def test_refusals_after_authentication_leave_one_record_each(asgi_server, routes):
    walled = make_tenant("walled", allowed_ips=["10.0.0.0/8"])
    assert post(asgi_server, walled.secret).status_code == 403
    narrow = api_key_create(organization=walled.org, name="narrow", allowed_models=["other"])
    assert post(asgi_server, narrow.secret).status_code == 403
    broke = make_tenant("broke", usd_pico=0)
    assert post(asgi_server, broke.secret).status_code == 402
    rows = records(3)
    assert sorted((r.status, r.http_status, r.code, r.model) for r in rows) == [
        ("refused", 402, "insufficient_credits", "demo"),
        ("refused", 403, "ip_not_allowed", ""),
        ("refused", 403, "model_not_allowed", "demo"),
    ]
    assert all(r.cost_pico == 0 and r.attempts == 0 for r in rows)


def test_after_settling_exactly_the_rest_of_the_credit_can_be_held(asgi_server, routes):
    """Every hold was settled to its exact cost: with Redis in the same round trip as the
    usage entry, in memory at once."""
    from asgiref.sync import async_to_sync

    from billing import holds

    tenant = make_tenant("exact", usd_pico=PICO_PER_USD)
    for _ in range(3):
        assert post(asgi_server, tenant.secret).status_code == 200
    rows = records(3)
    left = PICO_PER_USD - sum(r.cost_pico for r in rows)
    pots = (holds.Pot(holds.CREDIT, tenant.org.pk),)
    async_to_sync(holds.give_back)()  # with Redis: what credit leases did not spend
    with pytest.raises(holds.NotEnough) as short:
        async_to_sync(holds.reserve)(pots, left + 1)
    assert short.value.left == left
    async_to_sync(holds.reserve)(pots, left)
