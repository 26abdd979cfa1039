"""Rate limits across two real gateway processes on PostgreSQL + Redis: 300 requests at
once, half through each process, against RPM 60. The counters are shared through Redis
and its pool is bounded, so exactly the limit gets through and nothing gets a 5xx (before
this, 120 got through without Redis and 101 of 300 got a 500 with it)."""

import asyncio
import time

import httpx
import pytest

from accounts.services import api_key_create
from tests.multiproc import Gateways, needs_shared_services
from tests.proxy.conftest import load_routes, make_tenant

BURST = 300
# Two process starts and a burst each: bounded well under the suite's 120 s.
pytestmark = pytest.mark.timeout(110)
ASK = [{"role": "user", "content": "hi"}]


async def _burst(urls: list[str], secrets: list[str], n: int) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=n, max_keepalive_connections=n)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        return await asyncio.gather(
            *(
                client.post(
                    urls[i % len(urls)] + "/v1/chat/completions",
                    headers={"Authorization": f"Bearer {secrets[i % len(secrets)]}"},
                    json={"model": "demo", "messages": ASK},
                )
                for i in range(n)
            )
        )


def _fire(gw: Gateways, secrets: list[str]) -> list[httpx.Response]:
    started = time.monotonic()
    answers = asyncio.run(_burst(gw.urls, secrets, BURST))
    # All within one minute, or the window would rightly admit more.
    assert time.monotonic() - started < 50
    return answers


def _assert_limited(answers: list[httpx.Response], limit: int, whose: str) -> None:
    statuses = [r.status_code for r in answers]
    assert [s for s in statuses if s >= 500] == []
    assert set(statuses) <= {200, 429}
    assert limit - 1 <= statuses.count(200) <= limit + 1
    for r in answers:
        if r.status_code == 429:
            assert 1 <= int(r.headers["retry-after"]) <= 60
            error = r.json()["error"]
            assert (error["type"], error["code"]) == ("rate_limit_error", "rate_limit_exceeded")
            assert whose in error["message"]


def test_rpm_60_under_300_concurrent_requests_across_2_processes(
    sandbox, transactional_db, tmp_path
):
    needs_shared_services()
    load_routes(sandbox, {"demo": [{"model": "demo"}]})
    tenant = make_tenant("rpm60", rpm_limit=60)
    with Gateways(2, tmp_path, graceful_s=10) as gw:
        answers = _fire(gw, [tenant.secret])
    _assert_limited(answers, 60, "this key's limit of 60 requests per minute")
    served = [r for r in answers if r.status_code == 200]
    assert {r.headers["x-ratelimit-limit-requests"] for r in served} == {"60"}
    remaining = sorted(int(r.headers["x-ratelimit-remaining-requests"]) for r in served)
    assert remaining == list(range(len(served)))  # each admission saw the one before it


def test_an_organizations_rpm_cap_is_shared_by_its_keys_across_2_processes(
    sandbox, transactional_db, tmp_path
):
    needs_shared_services()
    load_routes(sandbox, {"demo": [{"model": "demo"}]})
    tenant = make_tenant("orgcap")
    tenant.org.rpm_limit = 40
    tenant.org.save(update_fields=["rpm_limit"])
    secrets = [tenant.secret, api_key_create(organization=tenant.org, name="second").secret]
    with Gateways(2, tmp_path, graceful_s=10) as gw:
        # One request of each key first, one through each process: both draw on the cap.
        first = [
            httpx.post(
                url + "/v1/chat/completions",
                headers={"Authorization": f"Bearer {secret}"},
                json={"model": "demo", "messages": ASK},
                timeout=30,
            )
            for url, secret in zip(gw.urls, secrets, strict=True)
        ]
        assert [r.status_code for r in first] == [200, 200]
        answers = first + _fire(gw, [secrets[0], secrets[0], secrets[1], secrets[1]])
    _assert_limited(answers, 40, "organization's limit, shared by all its keys, of 40 requests")
    refused = {r.request.headers["authorization"] for r in answers if r.status_code == 429}
    assert refused == {f"Bearer {s}" for s in secrets}
