"""HAProxy's checks are on /readyz, not on the port: a host whose Redis stops answering
still accepts connections, but its /readyz answers 503 within READY_TIMEOUT_S, so HAProxy
takes it out and the others serve; once its Redis answers again it is put back."""

import time
from collections import Counter

import pytest

from billing.models import UsageRecord
from tests.multihost.load import Background
from tests.processes import wait_for
from tests.proxy.conftest import make_tenant

pytestmark = pytest.mark.timeout(110)


def _status_becomes(cluster, name: str, status: str, since: float) -> float:
    assert wait_for(
        lambda: cluster.servers_status()[name] == status, timeout_s=15, interval_s=0.05
    ), cluster.servers_status()
    return time.monotonic() - since


def test_a_host_whose_redis_hangs_is_taken_out_and_put_back(cluster, figures):
    tenant = make_tenant("ready", usd_pico=10**15)
    stalled = cluster.hosts[1]
    load = Background(cluster.url, tenant.secret, clients=8, seconds=14)
    load.start()
    time.sleep(2)
    stalled_at = time.monotonic()
    cluster.redis_stall(1)
    down_s = _status_becomes(cluster, stalled.name, "DOWN", stalled_at)
    down_at = time.monotonic()
    time.sleep(3)
    resumed_at = time.monotonic()
    cluster.redis_resume(1)
    up_s = _status_becomes(cluster, stalled.name, "UP", resumed_at)
    up_at = time.monotonic()
    outcomes = load.result(timeout_s=45)

    while_down = [o for o in outcomes if down_at < o.sent < resumed_at]
    after_up = [o for o in outcomes if o.sent > up_at + 0.5]
    completed = [o for o in outcomes if o.completed]
    ids = {o.request_id for o in completed}
    assert wait_for(
        lambda: UsageRecord.objects.filter(request_id__in=ids).count() == len(ids), timeout_s=30
    )
    figures(
        {
            "requests": len(outcomes),
            "answers": dict(Counter(o.status if o.completed else o.error for o in outcomes)),
            "marked DOWN after its Redis stalled": f"{down_s:.2f} s",
            "served per host while DOWN": dict(Counter(o.host for o in while_down)),
            "marked UP after its Redis answered": f"{up_s:.2f} s",
            "served per host after": dict(Counter(o.host for o in after_up)),
            "usage records / completed requests": f"{len(ids)} / {len(completed)}",
        }
    )
    assert down_s < 6
    assert while_down and all(o.host != stalled.name for o in while_down if o.status != -1)
    assert stalled.name in {o.host for o in after_up if o.completed}
    # Nothing sent while it was out failed: HAProxy did not send it there.
    assert all(o.completed for o in while_down), Counter(o.error for o in while_down)
