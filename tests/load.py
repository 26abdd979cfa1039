"""Bounded concurrent load for the tests of limits, credit and usage under concurrency:
`hammer(urls, body, secret, connections=32, seconds=10)` keeps `connections` requests in
flight, spread over `urls` (several gateway processes), until the time is up, and tells
what came back."""

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field

import httpx


@dataclass
class Results:
    statuses: Counter = field(default_factory=Counter)
    served: list[str] = field(default_factory=list)  # x-request-id of each complete 200
    refusals: list[httpx.Response] = field(default_factory=list)

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status >= 500)


async def _hammer(urls, path, body, secret, connections, seconds, max_requests) -> Results:
    results = Results()
    deadline = time.monotonic() + seconds
    sent = 0
    headers = {"Authorization": f"Bearer {secret}"}
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:

        async def worker(n: int) -> None:
            nonlocal sent
            i = n
            while time.monotonic() < deadline and (max_requests is None or sent < max_requests):
                sent += 1
                url = urls[i % len(urls)] + path
                i += 1
                try:
                    response = await client.post(url, json=body, headers=headers)
                except httpx.HTTPError:
                    results.statuses[-1] += 1
                    continue
                results.statuses[response.status_code] += 1
                if response.status_code == 200:
                    results.served.append(response.headers["x-request-id"])
                elif len(results.refusals) < 50:
                    results.refusals.append(response)

        await asyncio.gather(*(worker(n) for n in range(connections)))
    return results


def hammer(
    urls: list[str],
    body: dict,
    secret: str,
    *,
    path: str = "/v1/chat/completions",
    connections: int = 32,
    seconds: float = 10.0,
    max_requests: int | None = None,
) -> Results:
    return asyncio.run(_hammer(urls, path, body, secret, connections, seconds, max_requests))
