"""TPM through the gateway: tokens are reserved from the request's estimate when it is
admitted, not counted when it ends, so concurrent requests cannot overrun the limit."""

import asyncio

import httpx

from proxy import spend
from tests.proxy.conftest import load_routes, make_tenant, records

BODY = {
    "model": "paced",
    "messages": [{"role": "user", "content": "Say hi"}],
    "max_tokens": 100,
    "stream": True,
}


async def _at_once(url: str, secret: str, count: int) -> list[int]:
    headers = {"Authorization": f"Bearer {secret}"}
    async with httpx.AsyncClient(timeout=30) as client:

        async def one() -> int:
            async with client.stream("POST", url, json=BODY, headers=headers) as response:
                await response.aread()
                return response.status_code

        return await asyncio.gather(*(one() for _ in range(count)))


def test_tpm_admits_at_most_its_limit_plus_one_estimate(asgi_server, sandbox, transactional_db):
    load_routes(sandbox, {"paced": [{"model": "demo@chunks=10,delay_ms=100"}]})
    tenant = make_tenant("tpm", tpm_limit=300)
    size = len(httpx.Request("POST", "http://x", json=BODY).content)
    estimate = spend.input_estimate(size) + 100
    statuses = asyncio.run(_at_once(asgi_server.url + "/v1/chat/completions", tenant.secret, 10))
    admitted = statuses.count(200)
    assert statuses.count(429) == 10 - admitted, statuses
    # Admitted while the window holds less than the limit: the last one may overrun it by
    # at most its own estimate.
    assert (admitted - 1) * estimate < 300 <= admitted * estimate + estimate, (admitted, estimate)
    assert admitted * estimate <= 300 + estimate
    rows = records(10)
    assert (
        sum(r.status == "refused" and r.code == "rate_limit_exceeded" for r in rows)
        == 10 - admitted
    )
