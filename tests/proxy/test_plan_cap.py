"""Admission under plans: a prepaid plan holds against credit; a flat plan's usage is
invoiced (no credit held, none debited); a capped flat plan stops at its included usage
with the 402 `plan_cap`, in both holds backends and across two processes."""

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings
from django.utils import timezone

from billing import holds, redis_client, spend_counters
from billing.models import CreditLedgerEntry, Plan, SpendCounter, UsageRecord
from billing.plans import plan_set
from tests.load import hammer
from tests.multiproc import Gateways, needs_shared_services
from tests.processes import wait_for
from tests.proxy.conftest import load_routes, make_tenant, records
from tests.proxy.test_spend import BODY, post

BACKENDS = ["local"] + (["redis"] if settings.REDIS_URL else [])


def flat(name: str, *, included_pico: int, overage: str) -> Plan:
    return Plan.objects.create(
        name=name, kind="flat", monthly_fee_pico=10**12, included_pico=included_pico,
        overage=overage,
    )  # fmt: skip


def on_plan(tenant, plan: Plan) -> None:
    plan_set(organization=tenant.org, plan=plan, now=True)


def test_a_flat_plan_serves_without_credit_and_debits_none(asgi_server, routes):
    tenant = make_tenant("flat", usd_pico=0)
    on_plan(tenant, flat("team", included_pico=10**12, overage="bill"))
    for _ in range(2):
        assert post(asgi_server, tenant.secret).status_code == 200
    rows = records(2)
    assert all(r.cost_pico > 0 and r.ledger_entry_id is None for r in rows)
    assert not CreditLedgerEntry.objects.filter(organization=tenant.org, kind="usage").exists()
    tenant.org.refresh_from_db()
    assert tenant.org.credit_balance_pico == 0
    # The month's spend still counts (the plan's invoice and its cap read it).
    month = spend_counters.period_id("month", timezone.now())
    subject = spend_counters.org_subject(tenant.org.pk)
    assert wait_for(lambda: spend_counters.spent(subject, month) == sum(r.cost_pico for r in rows))


def test_a_prepaid_plan_still_holds_against_credit(asgi_server, routes):
    tenant = make_tenant("prepaid", usd_pico=0)
    on_plan(tenant, Plan.objects.create(name="credits", kind="prepaid"))
    refused = post(asgi_server, tenant.secret)
    assert refused.status_code == 402 and refused.json()["error"]["code"] == "insufficient_credits"


def test_a_capped_plan_stops_at_its_included_usage_with_plan_cap(asgi_server, routes):
    probe = make_tenant("probe")
    assert post(asgi_server, probe.secret).status_code == 200
    (first,) = records(1)
    tenant = make_tenant("capped", usd_pico=0)
    # Room for a few requests' worst cases, then none.
    on_plan(tenant, flat("mini", included_pico=first.cost_pico * 30, overage="cap"))
    statuses = [post(asgi_server, tenant.secret).status_code for _ in range(40)]
    assert 1 <= statuses.count(200) <= 30 and statuses[-1] == 402, statuses
    refused = post(asgi_server, tenant.secret)
    error = refused.json()["error"]
    assert refused.status_code == 402 and error["code"] == "plan_cap", error
    assert "It resets at" in error["message"] and "upgrade the plan" in error["message"]
    assert wait_for(
        lambda: (
            UsageRecord.objects.filter(organization=tenant.org, code="plan_cap").count()
            == statuses.count(402) + 1
        )
    )
    spent = sum(r.cost_pico for r in UsageRecord.objects.filter(organization=tenant.org))
    assert 0 < spent <= first.cost_pico * 30
    # An upgrade at once: served again as soon as the key's cached plan reloads (2 s).
    on_plan(tenant, flat("big", included_pico=10**12, overage="cap"))
    assert wait_for(lambda: post(asgi_server, tenant.secret).status_code == 200, timeout_s=5)


def test_an_overage_bill_plan_is_not_capped(asgi_server, routes):
    tenant = make_tenant("billed", usd_pico=0)
    on_plan(tenant, flat("nocap", included_pico=0, overage="bill"))
    assert post(asgi_server, tenant.secret).status_code == 200


@pytest.fixture(params=BACKENDS)
def backend(request, settings, transactional_db):
    if request.param == "local":
        settings.REDIS_URL = ""
    else:
        redis_client.forget()
        redis_client.sync_client().flushdb()
    holds.forget()
    yield request.param
    holds.forget()
    redis_client.forget()


def test_the_plan_cap_pot_starts_from_the_months_spend_in_both_backends(backend):
    from accounts.services import organization_create

    org = organization_create(name="c", owner=None, slug="c")
    now = timezone.now()
    SpendCounter.objects.create(
        subject=spend_counters.org_subject(org.pk),
        period=spend_counters.period_id("month", now),
        spent_pico=700,
    )
    pots = holds.pots_for(
        organization_id=org.pk, key_id=1, budget_pico=None, budget_period="total",
        monthly_cap_pico=None, now=now, prepaid=False, plan_cap_pico=1_000,
    )  # fmt: skip
    assert [p.kind for p in pots] == [holds.PLAN_CAP]  # no credit pot on a flat plan
    assert pots[0].resets_at == spend_counters.resets_at("month", now)
    hold = async_to_sync(holds.reserve)(pots, 300)
    with pytest.raises(holds.NotEnough) as short:
        async_to_sync(holds.reserve)(pots, 1)
    assert short.value.pot.kind == holds.PLAN_CAP and short.value.left == 0
    async_to_sync(holds.settle)(hold, 100)  # what it cost: 200 of room again
    async_to_sync(holds.reserve)(pots, 200)
    with pytest.raises(holds.NotEnough):
        async_to_sync(holds.reserve)(pots, 1)


def test_a_prepaid_capless_request_holds_only_credit():
    pots = holds.pots_for(
        organization_id=1, key_id=1, budget_pico=None, budget_period="total",
        monthly_cap_pico=None, now=timezone.now(),
    )  # fmt: skip
    assert [p.kind for p in pots] == [holds.CREDIT]


def test_a_plan_cap_across_two_processes(sandbox, transactional_db, tmp_path):
    """Two web processes on PostgreSQL + Redis, 16 connections for 5 s: the plan's
    included usage is never overspent, and the refusals are plan_cap."""
    needs_shared_services()
    load_routes(sandbox, {"demo": [{"model": "demo"}]})
    with Gateways(2, tmp_path) as gw:
        probe = make_tenant("probe")
        one = hammer(gw.urls[:1], BODY, probe.secret, connections=1, seconds=5, max_requests=1)
        assert one.statuses[200] == 1
        assert wait_for(lambda: UsageRecord.objects.filter(organization=probe.org).exists())
        cost = UsageRecord.objects.get(organization=probe.org).cost_pico
        tenant = make_tenant("capped", usd_pico=0)
        on_plan(tenant, flat("mini", included_pico=20 * cost, overage="cap"))
        results = hammer(gw.urls, BODY, tenant.secret, connections=16, seconds=5)
        assert results.server_errors == 0 and set(results.statuses) <= {200, 402}
        assert 1 <= results.statuses[200] <= 20, results.statuses
        assert results.refusals[0].json()["error"]["code"] == "plan_cap"
        ids = set(results.served)
        assert wait_for(
            lambda: UsageRecord.objects.filter(request_id__in=ids).count() == len(ids),
            timeout_s=20,
        )
        spent = sum(r.cost_pico for r in UsageRecord.objects.filter(organization=tenant.org))
        assert spent <= 20 * cost
        assert not CreditLedgerEntry.objects.filter(organization=tenant.org, kind="usage").exists()
