"""proxy.limits over both backends: the in-process logs always, Redis when the suite has
REDIS_URL (a key prefix of its own per test). A clock injected in seconds drives the
window; the concurrency tests run admissions truly at once (Redis calls in flight
together over the pool)."""

import asyncio
import os
import random
import uuid

import pytest
import redis.asyncio
from django.conf import settings

from billing import redis_client
from proxy import limits
from proxy.auth import KeyInfo
from proxy.rate_local import LocalWindows
from proxy.rate_redis import RedisWindows
from proxy.translate.errors import ProxyError
from tests.multiproc import free_port

LIMIT = 60


class Clock:
    def __init__(self, at: float = 1_000.0) -> None:
        self.at = at

    def __call__(self) -> float:
        return self.at


def key_info(key_id: int = 1, org_id: int = 1, **caps) -> KeyInfo:
    """caps: rpm_limit, tpm_limit, org_rpm_limit, org_tpm_limit."""
    return KeyInfo(
        key_id=key_id,
        organization_id=org_id,
        prefix="jinf_test",
        allowed_models=(),
        rpm_limit=caps.get("rpm_limit"),
        tpm_limit=caps.get("tpm_limit"),
        budget_pico=None,
        budget_period="total",
        is_management=False,
        expires_at=None,
        revoked_at=None,
        org_rpm_limit=caps.get("org_rpm_limit"),
        org_tpm_limit=caps.get("org_tpm_limit"),
    )


def run(coro):
    """Runs a scenario on a fresh loop, closing that loop's Redis client after it."""

    async def scenario():
        try:
            return await coro
        finally:
            await limits.drain()
            if settings.REDIS_URL:
                await redis_client.client().aclose(close_connection_pool=True)

    return asyncio.run(scenario())


@pytest.fixture(params=["local", "redis"])
def clock(request) -> Clock:
    """The backend under test, installed in proxy.limits with an injected clock."""
    now = Clock()
    limits.use(LocalWindows() if request.param == "local" else redis_windows(), clock=now)
    return now


def redis_windows() -> RedisWindows:
    """The suite's Redis under a prefix of this test's own (skipped without Redis, but a
    failure under REQUIRE_SHARED=1, as tests.multiproc does)."""
    if not settings.REDIS_URL:
        if os.environ.get("REQUIRE_SHARED") == "1":
            pytest.fail("REQUIRE_SHARED=1 but this run has no REDIS_URL")
        pytest.skip("needs REDIS_URL")
    return RedisWindows(prefix=f"test:rl:{uuid.uuid4().hex}:")


async def attempt(key: KeyInfo, tokens: int = 0) -> limits.Ticket | ProxyError:
    try:
        return await limits.admit(key, tokens)
    except ProxyError as err:
        return err


def test_a_key_without_limits_never_reaches_a_backend():
    class Refuses:
        async def admit(self, *args):
            raise AssertionError("no backend call without a limit")

    limits.use(Refuses())
    assert run(limits.admit(key_info(), 100)) is None


def test_the_limit_is_admitted_then_a_429_names_it_with_the_exact_retry_after(clock):
    key = key_info(rpm_limit=3)

    async def scenario():
        for offset in (0, 10, 20):
            clock.at = 1_000 + offset
            assert isinstance(await attempt(key), limits.Ticket)
        clock.at = 1_030
        refused = await attempt(key)
        # The first entry (t=1000) leaves the window 60 s after it: 30 s from now.
        assert isinstance(refused, ProxyError)
        assert (refused.status, refused.type, refused.code) == (
            429,
            "rate_limit_error",
            "rate_limit_exceeded",
        )
        assert refused.retry_after == "30"
        assert "this key's limit of 3 requests per minute" in refused.message
        assert "Retry in 30 s" in refused.message
        clock.at = 1_059.999
        assert isinstance(await attempt(key), ProxyError)
        clock.at = 1_060.0  # a span is [t, t + 60 s): the first entry has left
        assert isinstance(await attempt(key), limits.Ticket)
        assert isinstance(await attempt(key), ProxyError)

    run(scenario())


def test_no_60_s_span_admits_more_than_the_limit_across_a_minute_edge(clock):
    """Bursts at 59.9 s and 60.1 s: a fixed window would admit 2× the limit in 0.2 s."""
    key = key_info(rpm_limit=LIMIT)

    async def burst(at: float, n: int = 100) -> int:
        clock.at = at
        outcomes = [await attempt(key) for _ in range(n)]
        return sum(isinstance(o, limits.Ticket) for o in outcomes)

    async def scenario():
        assert await burst(59.9) == LIMIT
        assert await burst(60.1) == 0
        assert await burst(119.89) == 0
        assert await burst(119.9) == LIMIT  # the 59.9 s burst has left the window
        assert await burst(120.1) == 0

    run(scenario())


def test_random_traffic_is_never_over_the_limit_in_any_span_and_never_refused_below_it(clock):
    """Exact in both directions: every 60 s span holds at most the limit, and a
    refusal happens only when the last 60 s already hold the limit (what makes 60 ± 1)."""
    rng = random.Random(10)
    limit = 7
    key = key_info(rpm_limit=limit)
    # Milliseconds, half of them within 0.2 s of a minute's edge.
    times = sorted(
        rng.choice([rng.randint(0, 300_000), 60_000 * rng.randint(1, 4) + rng.randint(-200, 200)])
        for _ in range(600)
    )
    admitted: list[int] = []

    def held(at: int) -> int:
        return sum(1 for a in admitted if at - 60_000 < a <= at)

    async def scenario():
        for t in times:
            clock.at = t / 1000
            outcome = await attempt(key)
            if isinstance(outcome, limits.Ticket):
                assert held(t) < limit
                admitted.append(t)
            else:
                assert held(t) == limit
                assert held(t + 1000 * int(outcome.retry_after)) < limit

    run(scenario())
    for start in admitted:
        assert sum(1 for a in admitted if start <= a < start + 60_000) <= limit
    assert len(admitted) >= 4 * limit  # the limit is reached, minute after minute


def test_concurrent_admissions_admit_exactly_the_limit(clock, settings):
    """500 at once through a pool of 4 connections: they queue for a connection, none
    fails (redis-py's default pool raised MaxConnectionsError here: HTTP 500s)."""
    settings.REDIS_POOL_MAX_CONNECTIONS = 4
    key = key_info(rpm_limit=LIMIT)

    async def scenario():
        return await asyncio.gather(*(attempt(key) for _ in range(500)))

    outcomes = run(scenario())
    assert sum(isinstance(o, limits.Ticket) for o in outcomes) == LIMIT
    refused = [o for o in outcomes if not isinstance(o, limits.Ticket)]
    assert all(o.status == 429 and 1 <= int(o.retry_after) <= 60 for o in refused)


def test_concurrent_tpm_admissions_reserve_at_most_the_limit_plus_one_estimate(clock):
    rng = random.Random(3)
    tpm = 2_000
    key = key_info(tpm_limit=tpm)
    estimates = [rng.randint(1, 700) for _ in range(200)]

    async def scenario():
        return await asyncio.gather(*(attempt(key, n) for n in estimates))

    outcomes = run(scenario())
    tickets = [o for o in outcomes if isinstance(o, limits.Ticket)]
    reserved = sum(t.tokens for t in tickets)
    # Each one was admitted while the window held less than the limit.
    assert all(t.used[0] < tpm for t in tickets)
    assert reserved - max(t.tokens for t in tickets) < tpm <= reserved
    assert reserved <= tpm + max(estimates)
    assert all(o.status == 429 for o in outcomes if not isinstance(o, limits.Ticket))


def test_tpm_refuses_once_reserved_and_says_when_enough_leaves(clock):
    key = key_info(tpm_limit=1_000)

    async def scenario():
        clock.at = 0
        assert isinstance(await attempt(key, 600), limits.Ticket)
        clock.at = 10
        assert isinstance(await attempt(key, 600), limits.Ticket)  # 600 < 1000: room left
        clock.at = 20
        refused = await attempt(key, 1)
        assert isinstance(refused, ProxyError)
        assert "this key's limit of 1000 tokens per minute" in refused.message
        # 1200 held; freeing 201 takes the first entry (600), which leaves at 60 s.
        assert refused.retry_after == "40"
        clock.at = 60
        assert isinstance(await attempt(key, 1), limits.Ticket)

    run(scenario())


def test_settling_replaces_the_estimate_by_the_actual_tokens(clock):
    key = key_info(tpm_limit=1_000)

    async def scenario():
        clock.at = 0
        big = await limits.admit(key, 900)
        await big.settle(100)
        clock.at = 1
        second = await limits.admit(key, 10)
        assert second.used == (100,)
        await second.settle(0)  # a failed call used nothing: its entry leaves
        third = await limits.admit(key, 10)
        assert third.used == (100,)
        # Over its estimate: the window is full until the entry where it was admitted leaves.
        await third.settle(5_000)
        clock.at = 2
        refused = await attempt(key, 1)
        assert isinstance(refused, ProxyError) and refused.retry_after == "59"
        # A settlement after its entry left the window counts only the excess, from then.
        clock.at = 70
        late = await limits.admit(key, 100)
        clock.at = 200
        await late.settle(300)
        assert (await limits.admit(key, 1)).used == (200,)

    run(scenario())


def test_settle_without_waiting_lands_and_is_once(clock):
    key = key_info(tpm_limit=1_000)

    async def scenario():
        ticket = await limits.admit(key, 500)
        limits.settle(ticket, 50)
        limits.settle(ticket, 900)  # ignored: a ticket settles once
        limits.settle(None, 10)
        await limits.drain()
        return (await limits.admit(key, 1)).used

    assert run(scenario()) == (50,)


def test_an_organizations_cap_is_shared_by_its_keys_and_no_one_elses(clock):
    a = key_info(key_id=1, org_id=7, org_rpm_limit=5)
    b = key_info(key_id=2, org_id=7, org_rpm_limit=5)
    other = key_info(key_id=3, org_id=8, org_rpm_limit=5)

    async def scenario():
        for key in (a, a, a, b, b):
            assert isinstance(await attempt(key), limits.Ticket)
        for key in (a, b):
            refused = await attempt(key)
            assert isinstance(refused, ProxyError)
            assert "organization's limit, shared by all its keys, of 5 requests" in refused.message
        assert isinstance(await attempt(other), limits.Ticket)

    run(scenario())


def test_a_keys_own_limit_binds_before_its_organizations(clock):
    a = key_info(key_id=1, org_id=7, rpm_limit=2, org_rpm_limit=5, org_tpm_limit=10_000)
    b = key_info(key_id=2, org_id=7, org_rpm_limit=5, org_tpm_limit=10_000)

    async def scenario():
        assert isinstance(await attempt(a, 10), limits.Ticket)
        assert isinstance(await attempt(a, 10), limits.Ticket)
        refused = await attempt(a, 10)
        assert "this key's limit of 2 requests" in refused.message
        # The refusal counted nowhere: b still has the organization's 3 left.
        for _ in range(3):
            assert isinstance(await attempt(b, 10), limits.Ticket)
        assert "organization's" in (await attempt(b, 10)).message
        return await limits.admit(key_info(key_id=9, org_id=9, org_tpm_limit=100), 1)

    assert run(scenario()).used == (0,)


def test_headers_report_the_keys_limits_and_what_remains_under_the_tightest(clock):
    async def scenario():
        keyed = await limits.admit(key_info(rpm_limit=5, tpm_limit=1_000), 100)
        org_only = await limits.admit(key_info(key_id=2, org_id=2, org_rpm_limit=50), 100)
        tight = key_info(key_id=3, org_id=3, rpm_limit=100, org_rpm_limit=2)
        await limits.admit(tight, 0)
        return keyed.headers(), org_only.headers(), (await limits.admit(tight, 0)).headers()

    keyed, org_only, tight = run(scenario())
    assert dict(keyed) == {
        b"x-ratelimit-limit-requests": b"5",
        b"x-ratelimit-remaining-requests": b"4",
        b"x-ratelimit-limit-tokens": b"1000",
        b"x-ratelimit-remaining-tokens": b"900",
    }
    assert dict(org_only) == {
        b"x-ratelimit-limit-requests": b"50",
        b"x-ratelimit-remaining-requests": b"49",
    }
    assert dict(tight)[b"x-ratelimit-remaining-requests"] == b"0"


def test_idle_logs_are_dropped_from_memory():
    windows = LocalWindows()
    now = Clock(0)
    limits.use(windows, clock=now)

    async def scenario():
        for key_id in range(50):
            await limits.admit(key_info(key_id=key_id, rpm_limit=5, tpm_limit=100), 5)
        now.at = 200
        await limits.admit(key_info(key_id=999, rpm_limit=5), 0)

    run(scenario())
    assert list(windows.logs) == ["k999:r"]


def test_redis_keys_expire_and_a_lost_sum_is_rebuilt():
    windows = redis_windows()
    limits.use(windows)
    prefix = windows.prefix
    key = key_info(tpm_limit=1_000)

    async def scenario():
        await limits.admit(key, 300)
        await limits.admit(key, 200)
        client = redis_client.client()
        ttls = [await client.pttl(prefix + name) for name in ("k1:t", "k1:t:sum")]
        await client.delete(prefix + "k1:t:sum")
        return ttls, (await limits.admit(key, 1)).used

    ttls, used = run(scenario())
    assert all(0 < ttl <= 61_000 for ttl in ttls)
    assert used == (500,)


def test_an_unreachable_redis_is_a_503_that_says_so_and_a_log_line(caplog):
    port = free_port()  # nothing listens there
    limits.use(RedisWindows(client=lambda: redis.asyncio.Redis(port=port)))
    key = key_info(rpm_limit=5, tpm_limit=100)
    limits._down_logged = 0.0

    async def scenario():
        refused = await attempt(key)
        ticket = limits.Ticket(key, limits.limits_of(key), (0, 0), "m", 5, limits.backend())
        limits.settle(ticket, 50)  # a settlement that fails is logged, never raised
        await limits.drain()
        return refused

    refused = asyncio.run(scenario())
    assert isinstance(refused, ProxyError)
    assert (refused.status, refused.code, refused.retry_after) == (
        503,
        "rate_limiter_unavailable",
        "5",
    )
    assert "Redis does not answer" in refused.message
    assert "Rate limits unavailable" in caplog.text
    assert "settlement failed" in caplog.text
