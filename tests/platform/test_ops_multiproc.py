"""Several web processes, one /metrics: with PROMETHEUS_MULTIPROC_DIR, any process's answer
sums every process's counts (prometheus_client.multiprocess)."""

from collections import Counter

import httpx
import pytest

from billing.models import UsageRecord
from tests.multiproc import Gateways, needs_shared_services, usage_stream_clear
from tests.platform.test_ops_metrics import added, scrape
from tests.processes import wait_for
from tests.proxy.conftest import _fresh_proxy_state, load_routes, make_tenant  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)

ASK = [{"role": "user", "content": "hi"}]


class At:
    def __init__(self, url: str) -> None:
        self.url = url


def test_metrics_of_several_processes_add_up(tmp_path):
    needs_shared_services()
    usage_stream_clear()
    from sandbox.server import SandboxServer

    sandbox = SandboxServer().start()
    prometheus = tmp_path / "prometheus"
    prometheus.mkdir()  # empty, as the runner leaves it before the web processes start
    try:
        load_routes(sandbox, {"demo": [{"model": "demo"}]})
        tenant = make_tenant()
        env = {"PROMETHEUS_MULTIPROC_DIR": str(prometheus)}
        with Gateways(2, tmp_path, env=env) as gw:
            for i in range(6):
                r = httpx.post(
                    gw.urls[i % 2] + "/v1/chat/completions",
                    json={"model": "demo", "messages": ASK, "stream": i % 3 == 0},
                    headers={"Authorization": f"Bearer {tenant.secret}"},
                    timeout=10,
                )
                assert r.status_code == 200, r.text
            assert wait_for(lambda: UsageRecord.objects.count() >= 6, timeout_s=15)
            records = list(UsageRecord.objects.all())
            by_status = Counter((r.model, r.status) for r in records)
            assert sum(by_status.values()) == 6

            def written() -> float:
                return added({}, scrape(At(gw.urls[0])), "jinf_usage_records_written_total", ())[()]

            assert wait_for(lambda: written() >= 6, timeout_s=15)
            for url in gw.urls:  # either process answers for both
                after = scrape(At(url))
                key = ("model", "status")
                assert added({}, after, "jinf_requests_total", key) == by_status
                assert added({}, after, "jinf_request_duration_seconds_count", key) == by_status
                assert added({}, after, "jinf_usage_records_written_total", ())[()] == 6
        assert list(prometheus.glob("*.db"))  # each process kept its values there
    finally:
        sandbox.stop()
