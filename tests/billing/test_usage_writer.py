"""A writer that one bad event cannot stop (billing/quarantine.py, proxy/usage_sink.py,
billing/usage_stream.py, billing/usage_journal.py): a batch the database refuses is split,
the refused events go to quarantine, the rest are written within a second, and later
events keep flowing; a database that is down is retried, never quarantined."""

import asyncio
import os
import socket
import time
from pathlib import Path

import httpx
import pytest
from django.db import OperationalError, connection

from billing import holds, quarantine, redis_client, usage_journal, usage_stream
from billing.models import UsageQuarantine, UsageRecord
from billing.quarantine import usage_write
from billing.usage import UsageEvent, event_dumps
from proxy import usage_sink
from sandbox.server import SandboxServer
from tests.multiproc import Gateways, needs_shared_services, usage_stream_clear
from tests.processes import wait_for
from tests.proxy.conftest import load_routes, make_tenant


@pytest.fixture
def sandbox():
    server = SandboxServer().start()
    try:
        yield server
    finally:
        server.stop()


async def polled(predicate, timeout_s: float, interval_s: float = 0.2) -> bool:
    """wait_for in a thread, whose database connection is closed afterwards (else the
    test database cannot be dropped at the end)."""

    def poll() -> bool:
        try:
            return wait_for(predicate, timeout_s, interval_s)
        finally:
            connection.close()

    return await asyncio.to_thread(poll)


def good(org_id: int, n: int, prefix: str = "good") -> list[UsageEvent]:
    return [
        UsageEvent(request_id=f"req_{prefix}_{i}", organization_id=org_id, api_key_id=None,
                   endpoint="chat", model="demo", status="ok", input_tokens=10,
                   output_tokens=5, cost_pico=1_000, latency_ms=1.0)
        for i in range(n)
    ]  # fmt: skip


def poisoned(org_id: int) -> list[UsageEvent]:
    """Events only the database refuses (record() would have made the first ones sane)."""
    base = {"organization_id": org_id, "api_key_id": None, "endpoint": "chat",
            "model": "demo", "status": "ok"}  # fmt: skip
    events = [
        UsageEvent(request_id="req_bad_negative", **base, input_tokens=-5),
        UsageEvent(request_id="req_bad_cost", **base, cost_pico=-1),
        UsageEvent(request_id="req_bad_org", **{**base, "organization_id": 987_654_321}),
    ]
    if connection.vendor == "postgresql":
        events += [
            UsageEvent(request_id="req_bad_nul", **base, error="upstream said \x00"),
            UsageEvent(request_id="req_bad_huge", **base, output_tokens=2**40),
        ]
    else:  # SQLite takes NULs and any 64-bit count; Python's driver refuses more than that
        events.append(UsageEvent(request_id="req_bad_huge", **base, output_tokens=2**64))
    return events


def mixed(org_id: int, n: int = 300) -> tuple[list[UsageEvent], set[str]]:
    events = good(org_id, n)
    bad = poisoned(org_id)
    for i, event in enumerate(bad):  # spread through the batch
        events.insert((i + 1) * n // (len(bad) + 1), event)
    return events, {e.request_id for e in bad}


def assert_quarantined(bad: set[str]) -> None:
    rows = {q.request_id: q for q in UsageQuarantine.objects.filter(request_id__in=bad)}
    assert set(rows) == bad
    assert not UsageQuarantine.objects.exclude(request_id__in=bad).filter(
        request_id__regex=r"^req_(good|other|later)_"
    ), "only the refused events are quarantined"
    for q in rows.values():
        assert q.payload["request_id"] == q.request_id and q.error
    assert not UsageRecord.objects.filter(request_id__in=bad).exists()


def test_a_refused_batch_is_split_and_only_the_refused_events_quarantined(transactional_db):
    tenant = make_tenant("poison")
    events, bad = mixed(tenant.org.pk)
    started = time.monotonic()
    written = usage_write(events)
    assert time.monotonic() - started < 1.0
    assert (written.records, written.quarantined) == (300, len(bad))
    assert UsageRecord.objects.filter(request_id__startswith="req_good_").count() == 300
    assert_quarantined(bad)
    assert usage_write(events).records == 0  # written once, quarantined once
    assert UsageQuarantine.objects.filter(request_id__in=bad).count() == len(bad)


def test_a_database_that_is_down_is_retried_and_never_quarantined(transactional_db, monkeypatch):
    tenant = make_tenant("down")
    real, failures = quarantine.usage_record_batch, [3]

    def flaky(events):
        if failures[0]:
            failures[0] -= 1
            raise OperationalError("server closed the connection unexpectedly")
        return real(events)

    monkeypatch.setattr(quarantine, "usage_record_batch", flaky)
    with pytest.raises(OperationalError):
        usage_write(good(tenant.org.pk, 3))
    assert not UsageQuarantine.objects.filter(request_id__startswith="req_good_").exists()

    monkeypatch.setattr(usage_sink, "RETRY_DELAY_S", 0.05)

    async def through_the_sink():
        sink = usage_sink.UsageSink()
        for event in good(tenant.org.pk, 20, "later"):
            sink.emit(event)
        ok = await polled(
            lambda: UsageRecord.objects.filter(request_id__startswith="req_later_").count() == 20,
            10,
        )
        await sink.drain()
        return ok

    assert asyncio.run(through_the_sink())
    assert failures == [0]
    assert not UsageQuarantine.objects.filter(request_id__startswith="req_later_").exists()


def test_the_embedded_writer_writes_the_rest_within_a_second_and_keeps_flowing(
    transactional_db, settings, tmp_path
):
    # The local writer: the embedded mode's, and production's while Redis is unreachable.
    settings.USAGE_JOURNAL_DIR = str(tmp_path)
    tenant, other = make_tenant("poison-a"), make_tenant("poison-b")
    events, bad = mixed(tenant.org.pk)

    def count(prefix: str) -> int:
        return UsageRecord.objects.filter(request_id__startswith=prefix).count()

    async def scenario() -> tuple[float, bool]:
        sink = usage_sink.UsageSink()
        sink.start()
        started = time.monotonic()
        for event in events:  # emit(): past record()'s sanitizing, as a bug would be
            sink.emit(event)
        assert await polled(lambda: count("req_good_") == 300, 5, 0.02)
        took = time.monotonic() - started
        for event in good(other.org.pk, 50, "other"):
            sink.emit(event)
        flowing = await polled(lambda: count("req_other_") == 50, 5)
        await sink.drain()
        return took, flowing

    took, flowing = asyncio.run(scenario())
    assert took < 1.0, took
    assert flowing
    assert_quarantined(bad)
    assert not list(Path(tmp_path).rglob("*.jsonl")), "committed journals are deleted"


def test_a_dead_processes_journal_is_replayed_once(transactional_db, tmp_path):
    tenant = make_tenant("journal")
    dead = usage_journal.Journal(tmp_path)
    for event in good(tenant.org.pk, 5, "dead"):
        dead.append(event_dumps(event) + b"\n")
    os.write(dead.active.fd, b'{"request_id": "req_torn", "organiz')  # killed mid-line
    live = usage_journal.Journal(tmp_path)
    live.append(event_dumps(good(tenant.org.pk, 1, "live")[0]) + b"\n")
    os.close(dead.active.fd)  # what a SIGKILL does to its lock

    assert usage_journal.replay_dead(usage_write, tmp_path) == 5
    assert UsageRecord.objects.filter(request_id__startswith="req_dead_").count() == 5
    assert not UsageRecord.objects.filter(request_id="req_live_0").exists()  # locked: alive
    assert not dead.active.path.exists() and live.active.path.exists()
    (torn,) = [
        q for q in UsageQuarantine.objects.filter(request_id="") if "req_torn" in str(q.payload)
    ]
    assert "unreadable journal line" in torn.error
    assert usage_journal.replay_dead(usage_write, tmp_path) == 0
    live.close()
    assert usage_journal.replay_dead(usage_write, tmp_path) == 1  # its lock went with it


def test_the_stream_writer_writes_the_rest_within_a_second_and_keeps_flowing(
    transactional_db, tmp_path, sandbox
):
    needs_shared_services()
    usage_stream_clear()
    load_routes(sandbox, {"demo": [{"model": "demo"}]})
    tenant, other = make_tenant("stream-a"), make_tenant("stream-b")
    events, bad = mixed(tenant.org.pk)
    r = redis_client.sync_client()
    with Gateways(2, tmp_path) as gw:
        started = time.monotonic()
        pipe = r.pipeline(transaction=False)
        for event in events:  # XADD by hand: past record()'s sanitizing
            pipe.xadd(usage_stream.stream_key(), {usage_stream.FIELD: event_dumps(event)})
        pipe.execute()
        assert wait_for(
            lambda: UsageRecord.objects.filter(request_id__startswith="req_good_").count() == 300,
            5,
            0.02,
        )
        took = time.monotonic() - started
        auth = {"Authorization": f"Bearer {other.secret}"}
        ids = []
        for i in range(20):
            response = httpx.post(
                gw.urls[i % 2] + "/v1/chat/completions",
                headers=auth,
                json={"model": "demo", "messages": [{"role": "user", "content": "hi"}]},
            )
            assert response.status_code == 200, response.text
            ids.append(response.headers["x-request-id"])
        assert wait_for(lambda: UsageRecord.objects.filter(request_id__in=ids).count() == 20, 5)
        assert wait_for(
            lambda: UsageQuarantine.objects.filter(request_id__in=bad).count() == len(bad), 5
        )
    assert took < 1.0, took
    assert_quarantined(bad)
    assert r.xlen(usage_stream.stream_key()) == 0, "written entries are acknowledged and deleted"
    pending = r.xpending(usage_stream.stream_key(), usage_stream.GROUP)
    assert pending["pending"] == 0


def test_an_unreachable_redis_hands_the_event_to_the_journal(transactional_db, settings, tmp_path):
    tenant = make_tenant("no-redis")
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        dead = sock.getsockname()[1]
    settings.REDIS_URL = f"redis://127.0.0.1:{dead}/0"
    settings.USAGE_JOURNAL_DIR = str(tmp_path)
    redis_client.forget()

    async def scenario() -> bool:
        try:
            # No cost, so no ledger entry: billing.holds must not meet the dead URL.
            event = good(tenant.org.pk, 1, "unreachable")[0]
            event.cost_pico = 0
            await usage_sink.record(event)
            assert list(Path(tmp_path).rglob("*.jsonl")), "journaled before record() returned"
            return await polled(
                lambda: UsageRecord.objects.filter(request_id="req_unreachable_0").exists(), 5
            )
        finally:
            await usage_sink.close()

    try:
        assert asyncio.run(scenario())
    finally:
        redis_client.forget()
        holds.forget()
