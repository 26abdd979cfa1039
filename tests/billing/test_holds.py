"""billing.holds on its own: what is held never exceeds what is available, settling is
exact, and the pots follow the ledger. The in-process backend always; the Redis one too
when the suite runs with REDIS_URL (the second pass of .ci/run)."""

import asyncio
from datetime import UTC, datetime

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings

from accounts.services import api_key_create, organization_create
from billing import holds, redis_client, spend_counters
from billing.services import credits_grant, ledger_balance
from billing.usage import UsageEvent, usage_record_batch

BACKENDS = ["local"] + (["redis"] if settings.REDIS_URL else [])


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


def org_with(usd_pico: int, slug: str = "acme"):
    org = organization_create(name=slug, owner=None, slug=slug)
    if usd_pico:
        credits_grant(organization=org, amount_pico=usd_pico, reason="test")
    return org


def credit(org) -> tuple[holds.Pot, ...]:
    return (holds.Pot(holds.CREDIT, org.pk),)


@async_to_sync
async def reserve_many(pots, amount: int, count: int) -> list:
    async def one():
        try:
            return await holds.reserve(pots, amount)
        except holds.NotEnough:
            return None

    return await asyncio.gather(*(one() for _ in range(count)))


def test_concurrent_reservations_never_hold_more_than_the_balance(backend):
    org = org_with(1_000)
    held = reserve_many(credit(org), 30, 200)
    assert sum(h is not None for h in held) == 33  # 33 × 30 = 990 ≤ 1,000 < 34 × 30


def test_settling_gives_back_the_difference_and_a_release_everything(backend):
    org = org_with(100)
    pots = credit(org)
    [first, second] = reserve_many(pots, 50, 2)
    assert reserve_many(pots, 1, 1) == [None]  # all of it is held
    async_to_sync(holds.settle)(first, 20)  # cost 20 of the 50 held
    async_to_sync(holds.settle)(second, 0)  # failed: released
    async_to_sync(holds.settle)(second, 0)  # a second settle changes nothing
    assert sum(h is not None for h in reserve_many(pots, 10, 20)) == 8  # 80 left


def test_a_grant_made_after_loading_is_available_at_once(backend):
    org = org_with(10)
    pots = credit(org)
    assert reserve_many(pots, 10, 2).count(None) == 1
    credits_grant(organization=org, amount_pico=25, reason="top-up")
    assert reserve_many(pots, 10, 3).count(None) == 1  # 25 more: two of ten


def test_an_entry_written_by_another_process_is_picked_up(backend, settings):
    """A Celery task's grant commits in another process: no hook reaches this one."""
    from accounts.models import Organization
    from billing.models import CreditLedgerEntry, LedgerKind

    settings.PROXY_BALANCE_TTL_S = 0.0
    org = org_with(10)
    pots = credit(org)
    assert reserve_many(pots, 10, 2).count(None) == 1
    CreditLedgerEntry.objects.create(organization=org, kind=LedgerKind.GRANT, amount_pico=40)
    Organization.objects.filter(pk=org.pk).update(credit_balance_pico=50)
    if backend == "redis":  # a grant elsewhere goes through credits_apply's hook there
        holds.ledger_changed(org.pk, 0, 40, usage=False)
        assert reserve_many(pots, 10, 5).count(None) == 1
        return

    @async_to_sync
    async def after_a_refresh() -> int:
        with pytest.raises(holds.NotEnough):  # the pot is old: this starts a refresh
            await holds.reserve(pots, 10)
        await asyncio.sleep(0.5)
        held = [await holds.reserve(pots, 10) for _ in range(4)]
        with pytest.raises(holds.NotEnough):
            await holds.reserve(pots, 10)
        return len(held)

    assert after_a_refresh() == 4


def test_usage_debits_do_not_count_twice(backend):
    """The cost is taken off at settling; the ledger's usage debit later changes nothing."""
    org = org_with(100)
    key = api_key_create(organization=org, name="k").key
    pots = credit(org)
    [hold] = reserve_many(pots, 60, 1)
    async_to_sync(holds.settle)(hold, 60)
    usage_record_batch(
        [UsageEvent("r1", org.pk, key.pk, "chat", "m", "ok", cost_pico=60)]
    )  # debits the ledger by 60
    assert ledger_balance(organization=org) == 40
    assert sorted(h is not None for h in reserve_many(pots, 40, 2)) == [False, True]


def test_a_key_budget_and_an_org_cap_hold_like_credit(backend):
    org = org_with(10**6)
    now = datetime(2026, 12, 2, 10, tzinfo=UTC)
    pots = holds.pots_for(
        organization_id=org.pk, key_id=7, budget_pico=100, budget_period="day",
        monthly_cap_pico=None, now=now,
    )  # fmt: skip
    assert [p.kind for p in pots] == [holds.CREDIT, holds.KEY_BUDGET]
    assert pots[1].resets_at == datetime(2026, 12, 3, tzinfo=UTC)
    assert sum(h is not None for h in reserve_many(pots, 30, 10)) == 3
    capped = holds.pots_for(
        organization_id=org.pk, key_id=8, budget_pico=None, budget_period="total",
        monthly_cap_pico=50, now=now,
    )  # fmt: skip
    with pytest.raises(holds.NotEnough) as short:
        async_to_sync(holds.reserve)(capped, 51)
    assert short.value.pot.kind == holds.ORG_CAP and short.value.left == 50
    # A refusal of one pot holds nothing in the others: the credit is untouched.
    assert sum(h is not None for h in reserve_many(credit(org), 10**5, 11)) == 9


def test_a_budget_starts_from_what_the_period_already_spent(backend):
    org = org_with(10**6)
    key = api_key_create(organization=org, name="k", budget_pico=100).key
    usage_record_batch([UsageEvent("r1", org.pk, key.pk, "chat", "m", "ok", cost_pico=70)])
    now = datetime.now(UTC)
    assert spend_counters.spent(spend_counters.key_subject(key.pk), "total") == 70
    pots = holds.pots_for(
        organization_id=org.pk, key_id=key.pk, budget_pico=100, budget_period="month",
        monthly_cap_pico=None, now=now,
    )  # fmt: skip
    assert sum(h is not None for h in reserve_many(pots, 10, 5)) == 3


def test_rotating_a_key_does_not_give_its_budget_a_fresh_start(backend):
    from accounts.services import api_key_rotate

    org = org_with(10**6)
    key = api_key_create(organization=org, name="k", budget_pico=100, budget_period="day").key
    usage_record_batch([UsageEvent("r1", org.pk, key.pk, "chat", "m", "ok", cost_pico=70)])
    key.refresh_from_db()
    new = api_key_rotate(key=key).key
    new.refresh_from_db()
    assert new.spent_pico == 70
    for period in ("day", "total"):
        pots = holds.pots_for(
            organization_id=org.pk, key_id=new.pk, budget_pico=100, budget_period=period,
            monthly_cap_pico=None, now=datetime.now(UTC),
        )  # fmt: skip
        with pytest.raises(holds.NotEnough):
            async_to_sync(holds.reserve)(pots, 31)


def test_credit_leases_hold_in_memory_and_give_back_what_they_did_not_spend(backend):
    """With Redis, a process takes a slice of credit and holds requests against it without
    a round trip; near the end of the credit there are no leases, and holds are exact."""
    if backend != "redis":
        pytest.skip("leases are the Redis backend's")
    from billing.holds_leases import LEASE_FLOOR, LEASE_REQUESTS, LEASED

    org = org_with(10**9)
    pots = credit(org)

    @async_to_sync
    async def scenario():
        first = await holds.reserve(pots, 1_000)  # loads the pot: exact
        second = await holds.reserve(pots, 1_000)  # takes a lease of 32 worst cases
        third = await holds.reserve(pots, 1_000)  # from the lease
        assert second.tokens[0] == LEASED and third.tokens[0] == LEASED
        value = int(await redis_client.client().hget(f"jinf:hold:credit:{org.pk}", "v"))
        assert value == 10**9 - 1_000 - LEASE_REQUESTS * 1_000
        for hold in (first, second, third):
            await holds.settle(hold, 400)
        await holds.give_back()
        value = int(await redis_client.client().hget(f"jinf:hold:credit:{org.pk}", "v"))
        assert value == 10**9 - 3 * 400  # exactly the costs, the rest given back
        # Too little left for a lease to keep LEASE_FLOOR more: every hold is exact.
        small = 10**9 - 3 * 400 - (LEASE_FLOOR * LEASE_REQUESTS * 10**6 - 1)
        big = await holds.reserve(pots, small)  # leaves less than the floor
        exact = await holds.reserve(pots, 10**6)
        assert big.tokens[0] != LEASED and exact.tokens[0] != LEASED

    scenario()


def test_a_zero_hold_is_held_and_settled_on_every_backend(backend, settings):
    """A free model's call, or a BYOK call's fee at BYOK_FEE_PERCENT 0 (the default),
    holds nothing; Redis took '-0' for no integer and failed the call with a 500."""
    from decimal import Decimal

    from billing import byok

    settings.BYOK_FEE_PERCENT = Decimal("0")
    byok.numerator.cache_clear()
    org = org_with(1_000)
    key = api_key_create(organization=org, name="k", budget_pico=500).key
    pots = (*credit(org), holds.Pot(holds.KEY_BUDGET, key.pk, limit=500))
    free = async_to_sync(holds.reserve)(credit(org), 0)
    own = async_to_sync(holds.reserve)(pots, 300, byok=True)  # its fee: 0
    async_to_sync(holds.settle)(free, 0)
    async_to_sync(holds.settle)(own, 200)
    byok.numerator.cache_clear()
    # The credit is whole (fees of 0), and the budget counted the BYOK cost of 200.
    assert sum(h is not None for h in reserve_many(credit(org), 100, 20)) == 10
    assert reserve_many(pots[1:], 301, 1) == [None]
    assert reserve_many(pots[1:], 300, 1) != [None]
