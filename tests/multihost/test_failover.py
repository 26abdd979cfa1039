"""Issue 13's several hosts: three gateway hosts in network namespaces behind HAProxy
(health checks on /readyz), sharing PostgreSQL and Redis. 20 clients for 15 s; one host
SIGKILLed 5 s in. HAProxy takes it out and the others serve; only requests in flight on
the dead host may fail; every request that completed (a 200 and its whole body) has
exactly one usage record, those the dead host served included (its unwritten stream
entries are claimed by a live host)."""

import time
from collections import Counter

import pytest

from billing.models import UsageRecord
from tests.multihost.load import Background
from tests.processes import wait_for
from tests.proxy.conftest import make_tenant

CLIENTS = 20
SECONDS = 15
KILL_AT_S = 5
pytestmark = pytest.mark.timeout(110)


def _down_after(cluster, name: str, killed_at: float, timeout_s: float = 10) -> float:
    """Seconds from the kill until HAProxy's checks mark the host down."""
    assert wait_for(
        lambda: cluster.servers_status()[name] == "DOWN", timeout_s=timeout_s, interval_s=0.05
    ), cluster.servers_status()
    return time.monotonic() - killed_at


def test_a_host_killed_under_load_loses_no_completed_requests_usage(cluster, figures):
    tenant = make_tenant("failover", usd_pico=10**15)
    victim = cluster.hosts[0]
    load = Background(cluster.url, tenant.secret, clients=CLIENTS, seconds=SECONDS)
    load.start()
    time.sleep(KILL_AT_S)
    killed_at = time.monotonic()
    victim.kill()
    dead_at = time.monotonic()  # reaped: nothing sent from now on can reach it
    down_s = _down_after(cluster, victim.name, killed_at)
    outcomes = load.result(timeout_s=SECONDS + 30)
    stats = cluster.servers()

    completed = [o for o in outcomes if o.completed]
    failed = [o for o in outcomes if not o.completed]
    in_flight = [o for o in failed if o.sent <= dead_at and o.done >= killed_at]
    after_kill = [o for o in outcomes if o.sent > dead_at]
    ids = {o.request_id for o in completed}
    assert len(ids) == len(completed)  # one id per request
    victims_completed = [o for o in completed if o.host == victim.name]
    assert wait_for(
        lambda: UsageRecord.objects.filter(request_id__in=ids).count() >= len(ids), timeout_s=30
    )
    per_id = Counter(
        UsageRecord.objects.filter(request_id__in=ids).values_list("request_id", flat=True)
    )
    figures(
        {
            "requests": len(outcomes),
            "completed (200, whole body)": len(completed),
            "failed": f"{len(failed)} {dict(Counter(o.error or o.status for o in failed))}",
            "failed of those in flight at the kill": len(in_flight),
            "failed of those sent after the kill": sum(o.sent > dead_at for o in failed),
            "host marked DOWN by HAProxy after": f"{down_s:.2f} s",
            "served per host before the kill": dict(
                Counter(o.host for o in completed if o.done < killed_at)
            ),
            "served per host after the kill": dict(
                Counter(o.host for o in completed if o.sent > dead_at)
            ),
            "HAProxy retries, redispatches": {
                n: (s["wretr"], s["wredis"]) for n, s in stats.items() if n.startswith("h")
            },
            "usage records / completed requests": f"{sum(per_id.values())} / {len(completed)}",
            "usage records of all requests (status)": dict(
                Counter(
                    UsageRecord.objects.filter(organization=tenant.org).values_list(
                        "status", flat=True
                    )
                )
            ),
            # Cut mid-answer after the host had recorded its usage (before the last byte).
            "failed requests with a usage record": UsageRecord.objects.filter(
                request_id__in=[o.request_id for o in failed if o.request_id]
            ).count(),
            "of those served by the killed host": (
                f"{sum(per_id[o.request_id] for o in victims_completed)} / {len(victims_completed)}"
            ),
        }
    )

    assert len(completed) >= 50, Counter(o.status for o in outcomes)
    assert victims_completed, "the killed host served nothing before it died"
    # HAProxy routes around it: nothing sent after the kill is answered by it, the others
    # both serve, and only requests already in flight on it failed.
    assert all(o.host != victim.name for o in after_kill if o.status != -1)
    assert {o.host for o in after_kill if o.completed} == {h.name for h in cluster.hosts[1:]}
    assert [o for o in failed if o not in in_flight] == []
    assert len(in_flight) <= CLIENTS
    assert down_s < 5
    # No completed request loses its usage record, and none is recorded twice.
    assert set(per_id) == ids
    assert set(per_id.values()) == {1}
