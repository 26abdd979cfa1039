"""Issue 13, hot-path independence: no request waits on a database write, and while the
database is locked or failing, warm keys are served from the caches; the usage written
meanwhile catches up once it answers (proxy.last_used, proxy.loading_cache).
"""

import asyncio
import contextlib
import sqlite3
import statistics
import threading
import time

import httpx
import pytest
from django.db import OperationalError, connection

from accounts.models import APIKey
from billing.models import UsageRecord
from proxy import auth, last_used
from proxy.loading_cache import LoadingCache
from tests.processes import wait_for
from tests.proxy.conftest import make_tenant

LOCK_S = 10.0


@contextlib.contextmanager
def write_locked():
    """Another connection holding the database's write lock: SQLite's BEGIN EXCLUSIVE
    (readers go on, in WAL mode), PostgreSQL's EXCLUSIVE table locks on the keys and
    the usage records (reads go on, writes wait)."""
    s = connection.settings_dict
    if connection.vendor == "sqlite":
        other = sqlite3.connect(s["NAME"], isolation_level=None, check_same_thread=False)
        other.execute("BEGIN EXCLUSIVE")
    else:
        import psycopg

        other = psycopg.connect(
            dbname=s["NAME"], user=s["USER"], password=s["PASSWORD"] or None,
            host=s["HOST"] or "127.0.0.1", port=s["PORT"] or 5432,
        )  # fmt: skip
        tables = ", ".join((APIKey._meta.db_table, UsageRecord._meta.db_table))
        other.execute(f"LOCK TABLE {tables} IN EXCLUSIVE MODE")
    try:
        yield
    finally:
        other.rollback() if connection.vendor != "sqlite" else other.execute("ROLLBACK")
        other.close()


def _chat(client: httpx.Client, secret: str) -> tuple[httpx.Response, float]:
    started = time.perf_counter()
    r = client.post(
        "/v1/chat/completions",
        headers={"Authorization": f"Bearer {secret}"},
        json={"model": "demo", "messages": [{"role": "user", "content": "hi"}]},
    )
    return r, (time.perf_counter() - started) * 1000


def _p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98]


def test_a_locked_database_adds_no_latency_to_warm_keys_and_loses_no_usage(
    asgi_server, routes, transactional_db
):
    last_used.forget()
    warm = [make_tenant(f"warm{i}") for i in range(3)]
    cold = make_tenant("cold")
    ids: list[str] = []
    with httpx.Client(base_url=asgi_server.url, timeout=30) as client:

        def send(secret: str) -> float:
            r, ms = _chat(client, secret)
            assert r.status_code == 200, r.text
            ids.append(r.headers["x-request-id"])
            return ms

        for t in warm:  # warm: cached, and their last use written already
            send(t.secret)
        assert wait_for(
            lambda: (
                APIKey.objects.filter(pk__in=[t.key.pk for t in warm], last_used_at=None).count()
                == 0
            ),
            timeout_s=10,
        )
        before = [send(warm[i % 3].secret) for i in range(150)]

        during: list[float] = []
        with write_locked():
            locked_at = time.monotonic()
            # A key never used: its last_used UPDATE now waits for the lock (in its thread).
            send(cold.secret)
            while time.monotonic() - locked_at < LOCK_S:
                during.append(send(warm[len(during) % 3].secret))
            held = [send(cold.secret) for _ in range(3)]
            assert UsageRecord.objects.count() < len(ids)  # the lock did hold the writes
        released_at = time.monotonic()

    print(
        f"\nwarm keys, database unlocked: {len(before)} requests, p50"
        f" {statistics.median(before):.1f} ms p99 {_p99(before):.1f} ms;"
        f" write-locked for {LOCK_S:g} s: {len(during)} requests, p50"
        f" {statistics.median(during):.1f} ms p99 {_p99(during):.1f} ms max {max(during):.1f} ms;"
        f" the cold key, locked: {max(held):.1f} ms at most"
    )
    assert _p99(during) < _p99(before) + 50, "warm keys waited on the locked database"
    # One client in sequence: a request stalled behind the lock is one sample of seconds
    # (7 s and more before issue 13), which no percentile shows; noise stays far below 1 s.
    assert max(during) < 1000, f"a warm-key request waited {max(during):.0f} ms"
    # No usage lost: every answered request's record, once the database answers again.
    assert wait_for(lambda: UsageRecord.objects.count() >= len(ids), timeout_s=40)
    print(f"usage records: {len(ids)} of {len(ids)}, {time.monotonic() - released_at:.1f} s")
    written = set(UsageRecord.objects.values_list("request_id", flat=True))
    assert written == set(ids)
    assert wait_for(
        lambda: APIKey.objects.get(pk=cold.key.pk).last_used_at is not None, timeout_s=10
    )


def test_with_key_loads_failing_warm_keys_are_served_and_cold_ones_get_503(
    asgi_server, routes, transactional_db, monkeypatch
):
    """The database down, as the key cache sees it: every load raises."""
    warm, cold = make_tenant("warm"), make_tenant("cold")
    with httpx.Client(base_url=asgi_server.url, timeout=30) as client:
        assert _chat(client, warm.secret)[0].status_code == 200

        async def down(_digest):
            raise OperationalError("connection refused")

        monkeypatch.setattr(auth._cache, "_load", down)
        started, statuses = time.monotonic(), []
        while time.monotonic() - started < auth.CACHE_TTL_S * 2:  # well past the ttl
            statuses.append(_chat(client, warm.secret)[0].status_code)
        refused, _ms = _chat(client, cold.secret)
    print(f"\nkey loads failing: warm key {len(statuses)} requests, statuses {set(statuses)}")
    assert set(statuses) == {200}
    assert refused.status_code == 503, refused.text
    assert refused.json()["error"]["code"] == "service_unavailable"
    assert refused.headers["retry-after"]


# -- the caches' part, on their own --------------------------------------------------------


class Source:
    def __init__(self) -> None:
        self.value, self.fail, self.calls = "v1", False, 0
        self.release = threading.Event()
        self.release.set()

    def __call__(self, key: str) -> str:
        self.calls += 1
        self.release.wait(5)
        if self.fail:
            raise RuntimeError("database down")
        return f"{key}:{self.value}"


pytestmark_db = pytest.mark.django_db


@pytestmark_db
def test_a_failing_database_serves_the_stale_entry_for_a_bounded_time() -> None:
    source = Source()
    cache = LoadingCache(source, ttl=lambda: 0.2, stale=lambda: 0.6, wait=lambda: 0.1)

    async def scenario():
        assert await cache.get("k") == "k:v1"
        source.fail = True
        await asyncio.sleep(0.3)  # past the ttl
        started = time.monotonic()
        assert await cache.get("k") == "k:v1"  # stale, not an error
        assert time.monotonic() - started < 0.15
        calls = source.calls
        assert await cache.get("k") == "k:v1"
        assert source.calls == calls  # a failed reload is not retried on every request
        await asyncio.sleep(0.6)  # past ttl + stale: no longer served
        with pytest.raises(RuntimeError, match="database down"):
            await cache.get("k")

    asyncio.run(scenario())


@pytestmark_db
def test_a_stalled_database_is_waited_for_a_bounded_time_and_a_fresh_answer_wins() -> None:
    source = Source()
    cache = LoadingCache(source, ttl=lambda: 0.2, stale=lambda: 5.0, wait=lambda: 0.1)

    async def scenario():
        await cache.get("k")
        await asyncio.sleep(0.25)
        source.release = threading.Event()  # the next reload hangs
        source.value = "v2"
        started = time.monotonic()
        assert await cache.get("k") == "k:v1"
        waited = time.monotonic() - started
        assert 0.05 < waited < 0.2, waited
        started = time.monotonic()
        assert await cache.get("k") == "k:v1"  # the reload has waited its share: at once
        assert time.monotonic() - started < 0.02
        source.release.set()
        await asyncio.sleep(0.05)
        assert await cache.get("k") == "k:v2"  # once it answers, the fresh value

    asyncio.run(scenario())


@pytestmark_db
def test_with_the_database_answering_an_expired_entry_is_reloaded_not_served() -> None:
    """Revocation still takes the ttl: stale entries are only for a failing database."""
    source = Source()
    cache = LoadingCache(source, ttl=lambda: 0.1, stale=lambda: 60.0)

    async def scenario():
        await cache.get("k")
        source.value = "revoked"
        await asyncio.sleep(0.15)
        return await cache.get("k")

    assert asyncio.run(scenario()) == "k:revoked"
